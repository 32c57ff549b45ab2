"""The project portal's settings: E070-E072."""

import re

from webhooks.checks.common import _error, _is_number
from webhooks.conf import app_settings

MAX_PORTAL_LINK_SECONDS = 24 * 3600  # a link is meant to be opened at once, not kept
# A CSP source Agenta's page can be served from: an http(s) origin (subdomain wildcard allowed)
# or 'self'. Nothing else, so a value can't add directives to the header.
FRAME_ANCESTOR = re.compile(r"^(https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?|'self')$")


def _check_portal() -> list:
    errors = []
    link = app_settings.PORTAL_LINK_SECONDS
    if (
        not isinstance(link, int)
        or isinstance(link, bool)
        or not 0 < link <= MAX_PORTAL_LINK_SECONDS
    ):
        errors.append(
            _error(
                "webhooks.E070",
                f"WEBHOOKS['PORTAL_LINK_SECONDS'] must be a whole number of seconds in "
                f"1..{MAX_PORTAL_LINK_SECONDS}.",
                f"Got {link!r}; the default is 900 (15 minutes). A link is opened at once.",
            )
        )
    hours = app_settings.PORTAL_SESSION_HOURS
    if not _is_number(hours) or hours <= 0:
        errors.append(
            _error(
                "webhooks.E071",
                "WEBHOOKS['PORTAL_SESSION_HOURS'] must be a positive number.",
                f"Got {hours!r}; the default is 8.",
            )
        )
    ancestors = app_settings.PORTAL_FRAME_ANCESTORS
    if not isinstance(ancestors, list | tuple) or not all(
        isinstance(origin, str) and FRAME_ANCESTOR.match(origin) for origin in ancestors
    ):
        errors.append(
            _error(
                "webhooks.E072",
                "WEBHOOKS['PORTAL_FRAME_ANCESTORS'] must be a list of origins.",
                f'Got {ancestors!r}; for example ["https://cloud.agenta.ai"], or [] to forbid '
                "framing the portal.",
            )
        )
    return errors
