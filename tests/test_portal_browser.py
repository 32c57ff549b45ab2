"""The portal in a real browser: headless Chromium walks a user's first visit.

Open a link, create a webhook, send a test ping, see the delivery and its attempt, retry it.
Screenshots of each step go to var/screenshots/. Chromium and its driver come from Debian
(`apt-get install chromium chromium-driver`, which .ci/run does when they are missing).
"""

import shutil
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import SERVICE_KEY
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery, Webhook

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WAIT_SECONDS = 15

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


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    """Save the whole page as var/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(1000, height + 200))  # the window's frame included
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


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
    wait = WebDriverWait(browser, WAIT_SECONDS)
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
    assert browser.current_url.endswith("status=failed&event_type=")  # pushed to the history
    Select(browser.find_element(By.ID, "id_status")).select_by_value("succeeded")
    wait.until(seen.text_to_be_present_in_element((By.ID, "deliveries"), "webhook.test"))
    shoot("08-deliveries")

    # and the webhook's page charts its health
    browser.get(detail_url)
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart svg rect.bar")) >= 2
    shoot("09-health")
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
        wait = WebDriverWait(driver, WAIT_SECONDS)
        send = wait.until(
            seen.element_to_be_clickable((By.XPATH, "//button[text()='Send a test event']"))
        )
        send.click()

        # the whole page comes back with the answer
        wait.until(seen.url_matches(r"/test$"))
        assert "Delivered" in wait.until(seen.visibility_of_element_located((By.ID, "ping"))).text
        screenshot(driver, "10-without-javascript")
    finally:
        driver.quit()
