"""Deployment files: they parse, and every command, module and URL they name exists here.

No container engine runs in the test environment, so the files are checked statically; the cron
scripts also run for real against a live server.
"""

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SCRIPTS = sorted((DEPLOY / "cron").glob("*.sh"))
CRON_JOBS = [path for path in SCRIPTS if path.name.startswith("webhooks-")]
ADMIN_CALL = DEPLOY / "cron" / "admin-call.sh"  # what each cron job runs
SERVICES = {"postgres", "redis", "migrate", "web", "worker", "scheduler", "cron"}
BIN = Path(sys.executable).parent  # taskiq and gunicorn live next to the interpreter


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def _commands(compose: dict) -> dict[str, list[str]]:
    """Return the command of each service built from this project, as an argv list."""
    out = {}
    for name, service in compose["services"].items():
        command = service.get("command")
        if command and "build" in service:
            out[name] = command if isinstance(command, list) else shlex.split(command)
    return out


def _procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name: shlex.split(command)
        for name, _, command in (line.partition(":") for line in lines if line.strip())
    }


def _check_manage_py(argv: list[str]) -> None:
    """Assert that argv (after 'manage.py') names an existing command with valid options."""
    name, *args = argv
    assert name in get_commands(), f"manage.py {name} does not exist"
    command = load_command_class(get_commands()[name], name)
    command.create_parser("manage.py", name).parse_args(args)


def _check_taskiq(argv: list[str], help_text: dict[str, str]) -> None:
    kind, target, *rest = argv
    module, _, attribute = target.partition(":")
    assert getattr(importlib.import_module(module), attribute), target
    for arg in rest:
        if arg.startswith("--"):
            assert arg in help_text[kind], f"taskiq {kind} has no option {arg}"
        elif not arg.isdigit():
            importlib.import_module(arg)  # a tasks module the worker imports


def _check_command(argv: list[str], help_text: dict[str, str]) -> None:
    program = Path(argv[0]).name
    if program == "python" and argv[1] == "manage.py":
        _check_manage_py(argv[2:])
    elif program == "taskiq":
        _check_taskiq(argv[1:], help_text)
    elif program == "gunicorn":
        assert importlib.import_module(argv[1]).application
        for arg in argv[2:]:
            if arg.startswith("--"):
                assert arg in help_text["gunicorn"], f"gunicorn has no option {arg}"
    elif program == "supercronic":
        assert (ROOT / argv[1].removeprefix("/app/")).is_file()
    else:
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture(scope="module")
def help_text() -> dict[str, str]:
    def run(*argv):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    return {
        "worker": run(str(BIN / "taskiq"), "worker", "--help"),
        "gunicorn": run(str(BIN / "gunicorn"), "--help"),
    }


def test_compose_defines_the_services_with_health_checks(compose):
    services = compose["services"]
    assert set(services) >= SERVICES
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command
    assert "--maxmemory-policy noeviction" in redis_command
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "http://127.0.0.1:8000/readyz" in services["web"]["healthcheck"]["test"]
    for name in ("worker", "scheduler"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    for name in ("web", "worker", "scheduler", "cron"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["env_file"] == ".env"
    assert services["cron"]["build"]["target"] == "cron"
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]


def test_compose_worker_and_scheduler_run_the_procfile_commands(compose):
    commands, procfile = _commands(compose), _procfile()

    assert commands["worker"] == procfile["worker"]
    assert commands["scheduler"] == procfile["scheduler"]
    assert commands["web"][:2] == procfile["web"][:2] == ["gunicorn", "webhooks_project.wsgi"]


def test_every_command_in_the_deploy_files_exists(compose, help_text):
    argvs = list(_commands(compose).values())
    argvs += [
        service["healthcheck"]["test"][1:]
        for service in compose["services"].values()
        if service.get("healthcheck", {}).get("test", [""])[0] == "CMD"
        and service["healthcheck"]["test"][1] == "python"
    ]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    argvs += [
        yaml.safe_load(cmd.replace("\\\n", " "))
        for cmd in re.findall(r"^CMD (\[.*?\])$", dockerfile, re.M | re.S)
    ]
    argvs += [
        shlex.split(line.split("&&", 1)[1])
        for line in (DEPLOY / "crontab").read_text().splitlines()
        if "manage.py" in line
    ]

    assert len(argvs) >= 10
    for argv in argvs:
        _check_command(argv, help_text)


def test_every_url_path_in_the_deploy_files_resolves():
    text = "\n".join(
        path.read_text()
        for path in [DEPLOY / "docker-compose.yml", DEPLOY / "Dockerfile", *SCRIPTS]
    )
    paths = set(re.findall(r"127\.0\.0\.1:8000(/[\w/-]*)", text))
    paths |= set(re.findall(r'"(/api/[\w/-]+)', text))  # the paths the cron jobs call

    assert {"/readyz", "/healthz", "/api/admin/webhooks/cleanup"} <= paths
    assert "/api/admin/webhooks/retry-stuck" in paths
    for path in paths:
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"{path} is not a URL of the service")


def test_dockerfile_builds_a_non_root_python_312_slim_image():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)

    assert stages[0] == "python:3.12-slim"
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    for stage in dockerfile.split("\nFROM ")[1:]:
        assert re.findall(r"^USER (\S+)", stage, re.M)[-1] == "app"
    assert "collectstatic --noinput" in dockerfile
    assert "pip install ." in dockerfile
    for source in re.findall(r"^COPY (?!--)(.+) \S+$", dockerfile, re.M):
        for item in source.split():
            assert (ROOT / item).exists(), f"COPY {item}: no such file"


def test_crontab_runs_retry_every_5_minutes_and_cleanup_daily_at_3():
    entries = {}
    for line in (DEPLOY / "crontab").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            fields = line.split(None, 5)
            entries[" ".join(fields[:5])] = fields[5]

    assert entries == {
        "*/5 * * * *": "/app/deploy/cron/webhooks-retry.sh",
        "0 3 * * *": "/app/deploy/cron/webhooks-cleanup.sh",
    }
    for script in entries.values():
        path = ROOT / script.removeprefix("/app/")
        assert path.is_file()
        assert os.access(path, os.X_OK)


@pytest.mark.parametrize("script", CRON_JOBS, ids=lambda p: p.name)
def test_cron_scripts_are_valid_bash_with_auth_and_timeouts(script):
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=10)
    assert 'admin-call.sh"' in script.read_text()
    subprocess.run(["bash", "-n", str(ADMIN_CALL)], check=True, timeout=10)
    text = ADMIN_CALL.read_text()
    assert "Authorization: Access %s" in text
    assert "$WEBHOOKS_AUTH_KEY" in text
    assert "--max-time" in text
    assert "--connect-timeout" in text


def test_env_example_names_every_variable_that_settings_and_deploy_files_read():
    example = {
        line.lstrip("# ").split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if re.match(r"^#? ?[A-Z][A-Z0-9_]*=", line)
    }
    settings_text = (ROOT / "webhooks_project" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', settings_text))
    compose_text = (DEPLOY / "docker-compose.yml").read_text()
    read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text))
    for script in SCRIPTS:
        read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", script.read_text()))

    assert {"DATABASE_URL", "WEBHOOKS_AUTH_KEY", "SECRET_KEY"} <= read
    assert read - example == set()
    assert example - read == set(), "env.example lists variables nothing reads"


# --- the cron scripts, for real ------------------------------------------------------------


def _run_script(name: str, **env) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ["PATH"], **env}
    return subprocess.run(
        ["bash", str(DEPLOY / "cron" / name)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(
    ("script", "summary_key"),
    [("webhooks-cleanup.sh", '"deliveries":0'), ("webhooks-retry.sh", '"woken":0')],
)
def test_cron_scripts_call_the_live_service(live_server, script, summary_key):
    done = _run_script(
        script,
        WEBHOOKS_BASE_URL=live_server.url,
        WEBHOOKS_AUTH_KEY="test-service-key",
        WEBHOOKS_CRON_TIMEOUT_SECONDS="30",
    )

    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = done.stdout.splitlines()
    assert f"{script.removesuffix('.sh')} ok: " in line
    assert summary_key in line


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("script", ["webhooks-cleanup.sh", "webhooks-retry.sh"])
def test_cron_scripts_fail_loudly(live_server, unused_port, script):
    wrong_key = _run_script(
        script, WEBHOOKS_BASE_URL=live_server.url, WEBHOOKS_AUTH_KEY="not-the-key"
    )
    no_key = _run_script(script, WEBHOOKS_BASE_URL=live_server.url)
    down = _run_script(
        script,
        WEBHOOKS_BASE_URL=f"http://127.0.0.1:{unused_port}",
        WEBHOOKS_AUTH_KEY="test-service-key",
    )

    for done in (wrong_key, no_key, down):
        assert done.returncode != 0
        (line,) = done.stdout.splitlines()
        assert " failed" in line
    assert "401" in wrong_key.stdout or "403" in wrong_key.stdout
    assert "not-the-key" not in wrong_key.stdout
    assert "WEBHOOKS_AUTH_KEY is not set" in no_key.stdout
    assert down.returncode == 7  # curl: could not connect
