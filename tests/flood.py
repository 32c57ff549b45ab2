"""A flood of test pings through the API, the admin and the portal while another client emits
and reads through the API; every request timed. Used by tests/test_ping_flood.py and the bench.

Each actor runs in its own thread with its own keep-alive session and repeats one request at a
pace until the flood stops; what it saw is a list of Answer values.
"""

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.contrib.auth import get_user_model
from django.http import HttpRequest

from webhooks.events import EVENT_TYPES
from webhooks.portal.access import COOKIE_NAME, CSRF_FIELD
from webhooks.portal.sessions import create_link
from webhooks.portal.tokens import COOKIE_SALT, csrf_token

ACTORS = ("api", "portal", "admin", "emit", "read")
TIMEOUT_SECONDS = 30  # a client's patience: far beyond anything the service should take
_MESSAGE = re.compile(r'<li class="(?:success|warning|error|info)">(.*?)</li>', re.S)


@dataclass(frozen=True)
class Answer:
    """One request: who sent it, the status, its wall-clock seconds and what it said."""

    actor: str
    status: int
    seconds: float
    text: str = ""
    retry_after: str | None = None


def _timed(actor: str, send: Callable[[], requests.Response], text=None) -> Answer:
    started = time.monotonic()
    response = send()
    seconds = time.monotonic() - started
    body = text(response) if text else response.text[:500]
    return Answer(actor, response.status_code, seconds, body, response.headers.get("Retry-After"))


def api_ping(base: str, token: str, project_id: uuid.UUID, webhook_id: uuid.UUID):
    """Return an actor pinging one webhook through the API."""
    session = requests.Session()
    session.headers["Authorization"] = token
    url = f"{base}/api/projects/{project_id}/webhooks/{webhook_id}/test"
    return lambda: _timed("api", lambda: session.post(url, timeout=TIMEOUT_SECONDS))


def portal_ping(base: str, project_id: uuid.UUID, webhook_id: uuid.UUID):
    """Return an actor pinging one webhook from its portal page (a plain form post)."""
    session = requests.Session()
    _, token = create_link(project_id, role="read_write")
    opened = session.get(f"{base}/portal/open", params={"token": token}, timeout=TIMEOUT_SECONDS)
    opened.raise_for_status()
    request = HttpRequest()
    request.COOKIES[COOKIE_NAME] = session.cookies[COOKIE_NAME]
    form = {CSRF_FIELD: csrf_token(request.get_signed_cookie(COOKIE_NAME, salt=COOKIE_SALT))}
    url = f"{base}/portal/webhooks/{webhook_id}/test"
    return lambda: _timed(
        "portal",
        lambda: session.post(url, data=form, timeout=TIMEOUT_SECONDS),
        lambda response: _ping_result(response.text),
    )


def _ping_result(page: str) -> str:
    """Return the text of the page's test-ping result, markup left out."""
    result = page.partition('<div id="ping"')[2].partition("</section>")[0]
    return " ".join(re.sub(r"<[^>]+>", " ", result).split())


def admin_ping(base: str, webhook_ids: list[uuid.UUID]):
    """Return an actor running the admin's "Send a test event" action on webhook_ids.

    Its answer's text is the messages the action left, read from the page it redirects to.
    """
    name = f"flood-{uuid.uuid4().hex[:8]}"
    get_user_model().objects.create_superuser(name, password=name)
    session = requests.Session()
    login = f"{base}/admin/login/"
    session.get(login, timeout=TIMEOUT_SECONDS)
    session.post(
        login,
        data={"username": name, "password": name, "next": "/admin/", **_csrf(session)},
        timeout=TIMEOUT_SECONDS,
    ).raise_for_status()
    changelist = f"{base}/admin/webhooks/webhook/"
    selected = [str(w) for w in webhook_ids]

    def act() -> Answer:
        data = {"action": "send_test", "_selected_action": selected, **_csrf(session)}
        answer = _timed(
            "admin",
            lambda: session.post(
                changelist, data=data, allow_redirects=False, timeout=TIMEOUT_SECONDS
            ),
        )
        page = session.get(changelist, timeout=TIMEOUT_SECONDS).text  # shows the messages
        messages = [m.strip() for m in _MESSAGE.findall(page)]
        return Answer(answer.actor, answer.status, answer.seconds, "\n".join(messages))

    return act


def _csrf(session: requests.Session) -> dict[str, str]:
    return {"csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}


def emitter(base: str, service_key: str, project_id: uuid.UUID):
    """Return an actor emitting config.deployed events for project_id (Agenta's deploys)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Access {service_key}"
    url = f"{base}/api/projects/{project_id}/events"
    body = {"type": "config.deployed", "data": EVENT_TYPES["config.deployed"].example}
    return lambda: _timed("emit", lambda: session.post(url, json=body, timeout=TIMEOUT_SECONDS))


def reader(base: str, api_key: str, project_id: uuid.UUID, webhook_id: uuid.UUID):
    """Return an actor reading the project's webhooks and one webhook's deliveries, in turn."""
    session = requests.Session()
    session.headers["Authorization"] = f"ApiKey {api_key}"
    urls = [
        f"{base}/api/projects/{project_id}/webhooks",
        f"{base}/api/projects/{project_id}/webhooks/{webhook_id}/deliveries",
    ]
    turn = iter(range(1 << 62))
    return lambda: _timed(
        "read", lambda: session.get(urls[next(turn) % 2], timeout=TIMEOUT_SECONDS)
    )


def most_at_once(attempts) -> int:
    """Return the most attempts in flight at one time, from their recorded start and duration.

    The sender's own record, not the endpoint's count: a hung endpoint notices a closed
    connection only when its thread next runs, which on a loaded machine can be after the
    next ping has arrived.
    """
    edges = []
    for attempt in attempts:
        start = attempt.started_at.timestamp()
        edges += [(start, 1), (start + attempt.duration_ms / 1000, -1)]
    held = most = 0
    for _, step in sorted(edges):  # an end sorts before a start at the same instant
        held += step
        most = max(most, held)
    return most


def run(
    others: list, pingers: list, seconds: float, ping_pace: float, other_pace: float
) -> list[Answer]:
    """Run the other client's actors, then the pingers too for seconds; return every answer.

    Each pinger repeats its request ping_pace seconds after its previous one ended, each other
    actor other_pace seconds after. The other client starts first and ends last, so every ping
    of the flood falls inside its run.
    """
    answers: list[Answer] = []
    lock = threading.Lock()
    stop_others, stop_pings = threading.Event(), threading.Event()

    def loop(actor, stop: threading.Event, pace: float) -> None:
        while not stop.is_set():
            answer = actor()
            with lock:
                answers.append(answer)
            stop.wait(pace)

    def start(actors, stop, pace) -> list[threading.Thread]:
        threads = [threading.Thread(target=loop, args=(a, stop, pace), daemon=True) for a in actors]
        for thread in threads:
            thread.start()
        return threads

    background = start(others, stop_others, other_pace)
    time.sleep(0.5)  # the other client's baseline before the flood
    flood = start(pingers, stop_pings, ping_pace)
    time.sleep(seconds)
    stop_pings.set()
    for thread in flood:
        thread.join()
    stop_others.set()
    for thread in background:
        thread.join()
    return answers
