"""Shared fixtures: the loopback-only network guard, a real receiver, API clients."""

import ipaddress
import socket

import pytest

from tests.receiver import Receiver

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(sock, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ConnectionRefusedError(f"tests may not connect beyond loopback (to {host})")


def _guarded_connect(self, address):
    _check_loopback(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_loopback(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only():
    """Refuse every socket connection beyond 127.0.0.1 / ::1 for the whole session."""
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


@pytest.fixture(autouse=True)
def _no_cached_names():
    """Start each test with no cached name lookup: tests answer names as they like."""
    from webhooks import resolver

    resolver.forget()
    yield
    resolver.forget()


@pytest.fixture
def receiver():
    """A real HTTP server on 127.0.0.1 (random port) that records what it receives."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVICE_KEY = "test-service-key"  # WEBHOOKS_AUTH_KEY in tests.settings


@pytest.fixture
def service_client():
    """A DRF APIClient authenticated as the service principal."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Access {SERVICE_KEY}")
    return client


@pytest.fixture
def make_key_client(db):
    """Return a factory: (project_id, scopes) -> an APIClient using a new project API key."""
    from rest_framework.test import APIClient

    from webhooks.services.api_keys import create_api_key

    def make(project_id, scopes=("webhooks:read", "webhooks:write", "events:emit")):
        _, plain = create_api_key(project_id, "test key", scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"ApiKey {plain}")
        return client

    return make


@pytest.fixture
def webhooks_settings(settings):
    """Return a function that overrides some WEBHOOKS keys for one test."""

    def override(**values):
        settings.WEBHOOKS = {**settings.WEBHOOKS, **values}

    return override


@pytest.fixture
def woken(monkeypatch):
    """Record the webhook ids woken through the queue instead of sending them to Redis."""
    from webhooks.engine import wakeups

    ids: list = []

    def wake(batch, force=False):
        batch = [str(i) for i in batch]
        ids.extend(batch)
        return len(batch)

    monkeypatch.setattr(wakeups, "wake", wake)
    return ids
