"""Stop the test run at once, with what to start, when PostgreSQL or Redis is unreachable."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

HINTS = {
    "PostgreSQL": "start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
    "start) or point DATABASE_URL at a running server",
    "Redis": "start it (redis-server --daemonize yes --port 6379 --save '' --appendonly no) or "
    "point REDIS_URL at a running server",
}


def main() -> int:
    problems = []
    db = settings.DATABASES["default"]
    try:
        # The maintenance database: the test database is created by pytest-django later.
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        where = f"{db.get('HOST') or 'socket'}:{db.get('PORT') or 5432}"
        problems.append(("PostgreSQL", where, exc))
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        problems.append(("Redis", settings.REDIS_URL, exc))
    for name, where, exc in problems:
        print(f"error: {name} at {where} is unreachable ({exc}).", file=sys.stderr)
        print(f"  {HINTS[name]}.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
