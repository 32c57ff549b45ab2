"""Property-based fuzz of the whole API from its OpenAPI schema: no input answers a 5xx.

Every operation gets schemathesis's coverage cases (boundary values, wrong types, NUL bytes, odd
Unicode in query strings, bodies and headers) and some random ones, sent alternately with the
service key and with a project key holding every scope. Path ids point at real rows, so the
requests reach the views instead of stopping at a 404.
"""

import itertools
import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.factories import DeliveryFactory, WebhookFactory

PROJECT = uuid.UUID("0190f3c2-0000-7000-8000-0000000000f2")
EXAMPLES_PER_OPERATION = 15  # random ones, on top of ~1000 coverage cases in all: about 25 s

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def keep_the_test_connection():
    """Keep the test's database connection across requests, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def known_ids(keep_the_test_connection, db, receiver, woken, make_key_client) -> dict:
    """Real rows for the path parameters, and the two credentials."""
    webhook = WebhookFactory(project_id=PROJECT, url=receiver.url())
    delivery = DeliveryFactory(webhook=webhook)
    client = make_key_client(PROJECT)
    return {
        "path": {
            "project_id": str(PROJECT),
            "webhook_id": str(webhook.id),
            "delivery_id": str(delivery.id),
            "event_id": str(delivery.event_id),
        },
        "credentials": itertools.cycle(
            ["Access test-service-key", client._credentials["HTTP_AUTHORIZATION"]]
        ),
    }


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_api_answer_a_server_error(case, known_ids):
    for name in set(case.path_parameters or {}) & set(known_ids["path"]):
        case.path_parameters[name] = known_ids["path"][name]
    credential = next(known_ids["credentials"])
    case.call_and_validate(headers={"Authorization": credential}, checks=[not_a_server_error])
