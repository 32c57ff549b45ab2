"""Django settings: every value comes from the environment, parsed once here."""

from pathlib import Path

import environ

from webhooks import __version__

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").exists():  # optional; the environment wins
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-secret-key-change-me" if DEBUG else "")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here, not from a CDN
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "webhooks.middleware.RejectNulInQuery",
    # Serves the admin's static files under gunicorn (collectstatic first); runserver in DEBUG too.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Puts the ids a URL names on the request's log lines (LOG_FORMAT=json shows them).
    "webhooks.observability.logs.LogContextMiddleware",
]

ROOT_URLCONF = "webhooks_project.urls"
WSGI_APPLICATION = "webhooks_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded mode (no DATABASE_URL) keeps everything in one SQLite file under var/.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'webhooks.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (web + in-process workers) share the file: wait for locks, don't fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Unset REDIS_URL means the in-process queue (embedded mode).
REDIS_URL = env.str("REDIS_URL", default="")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Times with seconds and the time zone in the admin (2026-12-07 05:50:12 UTC), as in the portal.
FORMAT_MODULE_PATH = ["webhooks.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
# WhiteNoise serves STATIC_ROOT (filled by collectstatic) and warns when it is missing.
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)

DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # bytes: larger API bodies answer 413

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webhooks.auth.ServiceKeyAuthentication",
        "webhooks.auth.ApiKeyAuthentication",
        "webhooks.auth.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["webhooks.auth.ProjectAccess"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["webhooks.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "webhooks.schema.AutoSchema",
    "EXCEPTION_HANDLER": "webhooks.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Agenta webhooks API",
    "DESCRIPTION": "Manage webhook subscriptions, emit events and inspect deliveries.",
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The service principal's key (Agenta's backend, cron). Empty disables it.
WEBHOOKS_AUTH_KEY = env.str("WEBHOOKS_AUTH_KEY", default="")
# Keys that encrypt webhook secrets at rest; the first encrypts, all decrypt (rotation).
WEBHOOKS_ENCRYPTION_KEYS = env.list("WEBHOOKS_ENCRYPTION_KEYS", default=[])

# Every tunable of the app; defaults live in webhooks/conf.py, read at call time.
WEBHOOKS = {
    key: value
    for key, value in {
        "ALLOW_PRIVATE_DESTINATIONS": env.bool("WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", default=None),
        "REQUIRE_HTTPS": env.bool("WEBHOOKS_REQUIRE_HTTPS", default=None),
        "RETENTION_DAYS": env.int("WEBHOOKS_RETENTION_DAYS", default=None),
        "DISPATCH_INTERVAL_SECONDS": env.float("WEBHOOKS_DISPATCH_INTERVAL_SECONDS", default=None),
        "DELIVERY_TIMEOUT_SECONDS": env.float("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", default=None),
        "MAX_WEBHOOKS_PER_PROJECT": env.int("WEBHOOKS_MAX_WEBHOOKS_PER_PROJECT", default=None),
        "WEB_THREADS_PER_PROCESS": env.int("WEBHOOKS_WEB_THREADS_PER_PROCESS", default=None),
        "PORTAL_FRAME_ANCESTORS": env.list("WEBHOOKS_PORTAL_FRAME_ANCESTORS", default=None),
        "OPERATOR_WEBHOOK_URL": env.str("WEBHOOKS_OPERATOR_WEBHOOK_URL", default=None),
        "OPERATOR_WEBHOOK_SECRET": env.str("WEBHOOKS_OPERATOR_WEBHOOK_SECRET", default=None),
        "PREPARED_STATEMENTS": env.bool("WEBHOOKS_PREPARED_STATEMENTS", default=None),
    }.items()
    if value is not None
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# "text" (the default) or "json": one JSON object per line, with delivery/webhook/project/event
# ids, attempt number and outcome where they apply (webhooks/observability/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "webhooks.observability.logs.JsonFormatter"},
    },
    "filters": {
        "ids": {"()": "webhooks.observability.logs.ContextFilter"},
        "quiet_4xx": {"()": "webhooks.logfilters.ServerErrorsOnly"},
        "redact_urls": {"()": "webhooks.logfilters.RedactUrls"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["ids", "redact_urls"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # A 4xx is the client's mistake and its answer says why: log only 5xx per request.
        "django.request": {"filters": ["quiet_4xx"]},
        # urllib3's DEBUG lines carry whole request URLs, and webhook URLs may hold tokens.
        "urllib3": {"level": "INFO"},
        # One INFO line per task ("Executing task ...") cost the worker 3% of its CPU and a log
        # line per delivery; the attempts are recorded in the database anyway.
        "taskiq.receiver.receiver": {"level": "WARNING"},
    },
}
