"""The portal in a real browser: headless Chromium walks a user's first visit, and a reader's.

Open a link, create a webhook, send a test ping, see the delivery and its attempt, retry it;
as a reader, see a failing webhook's red bars, its next attempts, find a delivery by its
webhook-id, copy a payload, follow an event to the webhooks that got it, never see the URL's
token. Screenshots of each step, at 1366 and 420 px wide, go to var/screenshots/. Chromium and
its driver come from Debian (`apt-get install chromium chromium-driver`, which .ci/run does when
they are missing).
"""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import SERVICE_KEY
from tests.factories import DeliveryAttemptFactory, DeliveryFactory, EventFactory, WebhookFactory
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery, Webhook

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WAIT_SECONDS = 15
WIDTHS = (1366, 420)  # a laptop, and a phone held upright (CSS px)
SLACK = "https://hooks.slack.com/services/T000/B000/XXXX"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="the browser test needs Debian's chromium and chromium-driver packages "
    "(apt-get install -y chromium chromium-driver; .ci/run installs them)",
)


def chrome(javascript: bool = True) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    # A click that submits a form may return before the next page is there: finding an element
    # waits for it (up to the deadline) instead of failing on the page being left.
    driver.implicitly_wait(WAIT_SECONDS)
    return driver


@pytest.fixture
def browser():
    driver = chrome()
    yield driver
    driver.quit()


def waiting(driver: webdriver.Chrome) -> WebDriverWait:
    """Return a wait that polls again when the page is replaced under it (a form's redirect):
    chromedriver then reports the node it was reading as stale, or as not in the document."""
    return WebDriverWait(
        driver,
        WAIT_SECONDS,
        ignored_exceptions=(StaleElementReferenceException, WebDriverException),
    )


def set_width(driver: webdriver.Chrome, width: int, height: int = 1000) -> None:
    """Lay the page out width CSS px wide (a window can't be made narrower than ~500 px)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    """Save the whole page as var/screenshots/<name>-<width>.png at each of WIDTHS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        set_width(driver, width)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        set_width(driver, width, max(1000, height))
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
    set_width(driver, WIDTHS[0])


def cut_off(driver: webdriver.Chrome, selector: str) -> list[str]:
    """Return the texts of the elements matching selector that end outside the viewport."""
    return driver.execute_script(
        "const width = document.documentElement.clientWidth;"
        "return [...document.querySelectorAll(arguments[0])]"
        "  .filter(e => e.getBoundingClientRect().right > width).map(e => e.textContent);",
        selector,
    )


def check_narrow(driver: webdriver.Chrome, selector: str) -> None:
    """At 420 px, assert the page does not scroll sideways and selector stays in view."""
    set_width(driver, 420)
    try:
        assert driver.find_elements(By.CSS_SELECTOR, selector), selector
        assert cut_off(driver, selector) == []
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    finally:
        set_width(driver, WIDTHS[0])


@pytest.fixture
def shoot(browser):
    """Return a function saving a screenshot of the browser's page, named for the step."""
    return lambda name: screenshot(browser, name)


def portal_link(live_server, project: str, role: str = "read_write") -> str:
    """Ask the API for a portal link, as Agenta does."""
    answer = requests.post(
        f"{live_server.url}/api/projects/{project}/portal-sessions",
        json={"role": role, "actor": "ada@example.com"},
        headers={"Authorization": f"Access {SERVICE_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["url"]


def severe_console_messages(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.mark.django_db(transaction=True)
def test_a_user_creates_a_webhook_pings_it_and_retries_its_delivery(
    live_server, receiver, browser, shoot, woken
):
    wait = waiting(browser)
    project = "0190a000-0000-7000-8000-0000000000aa"

    # given a link that Agenta made, opened in the browser
    browser.get(portal_link(live_server, project))
    assert browser.current_url == f"{live_server.url}/portal/"
    assert "No webhooks yet" in browser.find_element(By.ID, "main").text
    shoot("01-opened")

    # when the user adds a webhook for their endpoint
    browser.find_element(By.LINK_TEXT, "Add a webhook").click()
    browser.find_element(By.ID, "id_name").send_keys("deploy notifier")
    browser.find_element(By.ID, "id_url").send_keys(receiver.url())
    browser.find_element(By.ID, "id_environments").send_keys("production")
    browser.find_element(By.ID, "id_headers").send_keys("X-Team: ml")
    offered = [box.get_attribute("value") for box in browser.find_elements(By.NAME, "event_types")]
    assert "config.deployed" in offered
    assert not {"webhook.test", "webhook.disabled", "webhook.failing", "delivery.exhausted"} & set(
        offered
    )
    shoot("02-create-form")
    browser.find_element(By.XPATH, "//button[text()='Create the webhook']").click()
    wait.until(seen.text_to_be_present_in_element((By.ID, "main"), "Webhook created"))
    webhook = Webhook.objects.get(project_id=project)
    assert webhook.filters["environments"] == ["production"]
    shoot("03-created")

    # and sends a test event: htmx shows the answer in place
    shown_url = browser.current_url
    detail_url = shown_url.partition("?")[0]
    browser.find_element(By.XPATH, "//button[text()='Send a test event']").click()
    wait.until(seen.text_to_be_present_in_element((By.ID, "ping"), "Delivered"))
    assert "HTTP 200" in browser.find_element(By.ID, "ping").text
    assert browser.current_url == shown_url  # a partial update, not a new page
    (ping,) = receiver.wait_for(1)
    assert ping.headers["x-agenta-event"] == "webhook.test"
    assert ping.headers["x-team"] == "ml"
    shoot("04-test-ping")

    # then the delivery shows its attempt, with the signature redacted
    browser.find_element(By.LINK_TEXT, "See this delivery and its attempt").click()
    state = wait.until(seen.presence_of_element_located((By.ID, "delivery-state")))
    assert "Attempts (1)" in state.text
    assert "succeeded" in state.text
    assert "[redacted]" in browser.find_element(By.CSS_SELECTOR, "details.attempt").text
    shoot("05-delivery")

    # and sending it again queues a manual attempt, which shows once a worker made it
    browser.find_element(By.XPATH, "//button[text()='Send again']").click()
    wait.until(seen.text_to_be_present_in_element((By.ID, "delivery-state"), "pending"))
    delivery = Delivery.objects.get(webhook=webhook)
    assert woken == [str(webhook.id)]
    shoot("06-retry-queued")
    assert deliver(delivery.id) is not None  # what the woken worker does
    wait.until(seen.text_to_be_present_in_element((By.ID, "delivery-state"), "Attempts (2)"))
    assert "manual" in browser.find_element(By.ID, "delivery-state").text
    assert len(receiver.wait_for(2)) == 2
    shoot("07-retried")

    # and the delivery list filters by status in place
    browser.find_element(By.LINK_TEXT, "Deliveries").click()
    Select(browser.find_element(By.ID, "id_status")).select_by_value("failed")
    wait.until(seen.text_to_be_present_in_element((By.ID, "deliveries"), "No deliveries match"))
    assert "status=failed&" in browser.current_url  # pushed to the history
    Select(browser.find_element(By.ID, "id_status")).select_by_value("succeeded")
    wait.until(seen.text_to_be_present_in_element((By.ID, "deliveries"), "webhook.test"))
    shoot("08-deliveries")

    # and the webhook's page charts its health
    browser.get(detail_url)
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart svg rect.bar.ok")) >= 2
    shoot("09-health")
    assert severe_console_messages(browser) == []


def failing_webhook(project: str) -> tuple[Webhook, list[Delivery]]:
    """Return a Slack-style webhook whose 5 deliveries all failed once on 500 and will retry."""
    webhook = WebhookFactory(project_id=project, name="slack alerts", url=SLACK)
    due = timezone.now() + timedelta(minutes=10)
    deliveries = []
    for _ in range(5):
        delivery = DeliveryFactory(
            webhook=webhook,
            event=EventFactory(project_id=project),
            status="pending",
            attempt_count=1,
            next_attempt_at=due,
            last_status_code=500,
        )
        DeliveryAttemptFactory(delivery=delivery, number=1, response_status=500, duration_ms=80)
        deliveries.append(delivery)
    return webhook, deliveries


@pytest.mark.django_db(transaction=True)
def test_a_reader_sees_failures_next_attempts_and_no_url_token(live_server, browser, shoot):
    wait = waiting(browser)
    project = "0190a000-0000-7000-8000-0000000000ac"
    _, deliveries = failing_webhook(project)
    wanted = deliveries[2]

    # given a read-only link
    browser.get(portal_link(live_server, project, role="read_only"))
    main = browser.find_element(By.ID, "main")

    # the list shows the host, never the Slack path (a token), and the state fits at 420 px
    assert "https://hooks.slack.com/…" in main.text
    assert "T000" not in browser.page_source and "XXXX" not in browser.page_source
    assert "Add a webhook" not in main.text
    check_narrow(browser, "td.state .badge")
    shoot("11-reader-list")

    # the webhook's page: red bars for the failed attempts, and the recent deliveries
    browser.find_element(By.LINK_TEXT, "slack alerts").click()
    wait.until(seen.presence_of_element_located((By.ID, "recent")))
    assert "https://hooks.slack.com/…" in browser.find_element(By.CSS_SELECTOR, "dl.settings").text
    red = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg rect.bar.bad")
    assert len(red) == 2 and all(float(bar.get_attribute("height")) > 0 for bar in red)
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart svg rect.bar.ok") == []
    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "figure.chart figcaption")]
    assert all("5 attempts, 0 succeeded, 5 failed" in caption for caption in captions), captions
    recent = browser.find_element(By.ID, "deliveries").text
    assert recent.count("pending") == 5 and "UTC (in 9 minutes)" in recent
    assert "T000" not in browser.page_source
    check_narrow(browser, "#deliveries td.state .badge")
    shoot("12-reader-failing-webhook")

    # the delivery list finds one delivery by the webhook-id the endpoint saw
    browser.find_element(By.LINK_TEXT, "All deliveries, with search").click()
    search = browser.find_element(By.ID, "id_search")
    search.send_keys(str(wanted.id))
    browser.find_element(By.XPATH, "//button[text()='Filter']").click()
    wait.until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr")) == 1
    )
    row = browser.find_element(By.CSS_SELECTOR, "#deliveries tbody tr")
    assert f"search={wanted.id}" in browser.current_url
    assert "Next attempt" in browser.find_element(
        By.CSS_SELECTOR, "#deliveries thead"
    ).get_attribute("textContent")
    assert "UTC (in 9 minutes)" in row.find_element(By.CSS_SELECTOR, "td.next-attempt").text
    check_narrow(browser, "#deliveries td.state .badge")
    shoot("13-reader-search")

    # the delivery: its attempt, the next one, and a payload to copy
    row.find_element(By.TAG_NAME, "a").click()
    state = wait.until(seen.presence_of_element_located((By.ID, "delivery-state")))
    assert "HTTP 500" in state.text and "next attempt" in state.text
    assert "Retry now" not in state.text  # a reader changes nothing
    assert "https://hooks.slack.com/…" in browser.find_element(
        By.CSS_SELECTOR, "details.attempt"
    ).get_attribute("textContent")
    payload = browser.find_element(By.ID, "payload-body")
    assert '"type": "config.deployed"' in payload.text
    copy = browser.find_element(By.CSS_SELECTOR, "button.copy")
    assert copy.is_displayed()
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {
            "origin": live_server.url,
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
        },
    )
    copy.click()
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, ".copied"), "Copied"))
    copied = browser.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('refused: ' + e))"
    )
    assert copied == payload.get_attribute("textContent")
    shoot("14-reader-delivery")

    # the event, across the project's webhooks
    browser.find_element(By.LINK_TEXT, "Which webhooks got this event").click()
    rows = wait.until(
        seen.presence_of_all_elements_located((By.CSS_SELECTOR, "table.events tbody tr"))
    )
    assert len(rows) == 1
    assert "slack alerts" in rows[0].text and "pending" in rows[0].text
    browser.find_element(By.LINK_TEXT, "Events").click()
    wait.until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "table.events tbody tr")) == 5
    )
    check_narrow(browser, "table.events .badge")
    shoot("15-reader-events")

    # the catalogue says what the operator events are
    browser.find_element(By.LINK_TEXT, "Event types").click()
    operator = wait.until(seen.presence_of_element_located((By.ID, "operator")))
    assert operator.text == "Operator events"
    assert "operator event, not subscribable" in browser.find_element(By.ID, "main").text
    shoot("16-event-types")
    assert "T000" not in browser.page_source
    assert severe_console_messages(browser) == []


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_forms_still_work(live_server, receiver):
    driver = chrome(javascript=False)
    try:
        project = "0190a000-0000-7000-8000-0000000000ab"
        driver.get(portal_link(live_server, project))
        driver.find_element(By.LINK_TEXT, "Add a webhook").click()
        driver.find_element(By.ID, "id_name").send_keys("no script")
        driver.find_element(By.ID, "id_url").send_keys(receiver.url())
        driver.find_element(By.XPATH, "//button[text()='Create the webhook']").click()
        wait = waiting(driver)
        send = wait.until(
            seen.element_to_be_clickable((By.XPATH, "//button[text()='Send a test event']"))
        )
        send.click()

        # the whole page comes back with the answer
        wait.until(seen.url_matches(r"/test$"))
        assert "Delivered" in wait.until(seen.visibility_of_element_located((By.ID, "ping"))).text
        screenshot(driver, "10-without-javascript")

        # the search is a plain GET form, and the payload is there to select without a button
        ping = Delivery.objects.get(webhook__project_id=project)
        driver.find_element(By.LINK_TEXT, "All deliveries, with search").click()
        driver.find_element(By.ID, "id_search").send_keys(str(ping.event_id))
        driver.find_element(By.XPATH, "//button[text()='Filter']").click()
        wait.until(seen.url_contains(f"search={ping.event_id}"))
        driver.find_element(By.CSS_SELECTOR, "#deliveries tbody a").click()
        payload = wait.until(seen.visibility_of_element_located((By.ID, "payload-body")))
        assert "webhook.test" in payload.text
        assert not driver.find_element(By.CSS_SELECTOR, "button.copy").is_displayed()
        screenshot(driver, "17-without-javascript-delivery")
    finally:
        driver.quit()
