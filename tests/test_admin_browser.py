"""The admin's list pages in headless Chromium at 1366 px: every column fits, none scrolls.

Screenshots go to var/screenshots/admin-*.png.
"""

import pytest
from django.contrib.auth.models import User
from selenium.webdriver.common.by import By

from tests.factories import DeliveryAttemptFactory, DeliveryFactory, EventFactory, WebhookFactory
from tests.test_portal_browser import CHROMIUM, DRIVER, SCREENSHOTS, chrome
from webhooks.models import Delivery

WIDTH_PX = 1366

pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromium-driver"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def admin_browser(live_server):
    User.objects.create_superuser("boss", "boss@example.com", "pw")
    driver = chrome()
    driver.set_window_size(WIDTH_PX, 900)
    driver.get(f"{live_server.url}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys("boss")
    driver.find_element(By.NAME, "password").send_keys("pw")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    driver.find_element(By.ID, "site-name")  # logged in
    yield driver
    driver.quit()


def _history():
    """A project with the long names real ones have: a Slack URL, a long webhook name."""
    webhook = WebhookFactory(
        name="Deploy notifier for the production environment",
        url="https://hooks.slack.com/services/T0000000000/B0000000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    )
    for status, trigger, code in [
        ("succeeded", "auto", 200),
        ("failed", "manual", 503),
        ("pending", "recover", 500),
        ("failed", "test", 410),
    ]:
        delivery = DeliveryFactory(
            webhook=webhook,
            event=EventFactory(project_id=webhook.project_id, type="config.deployed"),
            status=status,
            trigger=trigger,
            attempt_count=3,
        )
        DeliveryAttemptFactory(delivery=delivery, number=1, response_status=code)
        Delivery.objects.filter(pk=delivery.pk).update(last_status_code=code)


@pytest.mark.parametrize(
    ("page", "columns"),
    [
        ("delivery", ["trigger", "attempts", "last_code", "created", "state"]),
        ("webhook", ["state", "last_delivery_status", "created", "destination"]),
        ("event", ["deliveries", "created"]),
    ],
)
def test_list_pages_fit_1366_px_with_their_key_columns_visible(
    live_server, admin_browser, page, columns
):
    _history()
    admin_browser.get(f"{live_server.url}/admin/webhooks/{page}/")
    admin_browser.find_element(By.ID, "result_list")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    admin_browser.save_screenshot(str(SCREENSHOTS / f"admin-{page}-list-{WIDTH_PX}.png"))

    page_width, viewport = admin_browser.execute_script(
        "const e = document.documentElement; return [e.scrollWidth, e.clientWidth]"
    )
    assert page_width <= viewport, "the page scrolls sideways"
    # the table's own box scrolls when it is too wide (Django's .results): it must not
    table_width, box_width, box_right = admin_browser.execute_script(
        "const box = document.querySelector('.results');"
        "return [box.scrollWidth, box.clientWidth, box.getBoundingClientRect().right]"
    )
    assert table_width <= box_width, "the list scrolls sideways"
    for column in columns:
        header = admin_browser.find_element(By.CSS_SELECTOR, f"th.column-{column}")
        right = admin_browser.execute_script(
            "return arguments[0].getBoundingClientRect().right", header
        )
        assert header.is_displayed() and right <= box_right, column


def test_the_change_pages_show_their_buttons(live_server, admin_browser):
    _history()
    delivery = Delivery.objects.filter(status="failed").first()
    admin_browser.get(f"{live_server.url}/admin/webhooks/delivery/{delivery.id}/change/")
    assert admin_browser.find_element(By.ID, "redeliver").is_displayed()
    admin_browser.save_screenshot(str(SCREENSHOTS / f"admin-delivery-page-{WIDTH_PX}.png"))

    admin_browser.get(f"{live_server.url}/admin/webhooks/webhook/{delivery.webhook_id}/change/")
    for button in ("send-test", "disable", "recover"):
        assert admin_browser.find_element(By.ID, button).is_displayed(), button
    admin_browser.save_screenshot(str(SCREENSHOTS / f"admin-webhook-page-{WIDTH_PX}.png"))
