"""Which destinations outgoing requests may reach (the SSRF policy)."""

import ipaddress

# Ranges that `is_global` misses or that we name explicitly for clear messages.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def blocked_reason(address: str) -> str | None:
    """Return why an IP address is not a public destination, or None when it is."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = [
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "carrier-grade NAT"),
        (ip.is_private, "private"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-global"),
    ]
    return next((f"{label} address {ip}" for blocked, label in checks if blocked), None)
