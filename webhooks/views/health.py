"""Liveness and readiness probes."""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)


def healthz(request):
    """Answer 200 while the process is up."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Answer 200 when the database (and Redis, when configured) answer; else 503 naming which."""
    failed = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        logger.warning("readyz: database check failed: %s", exc)
        failed["database"] = type(exc).__name__
    if settings.REDIS_URL:
        try:
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
            try:
                client.ping()
            finally:
                client.close()
        except Exception as exc:  # any client error means "not ready"
            logger.warning("readyz: redis check failed: %s", exc)
            failed["redis"] = type(exc).__name__
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
    checked = ["database", "redis"] if settings.REDIS_URL else ["database"]
    return JsonResponse({"status": "ok", "checked": checked})
