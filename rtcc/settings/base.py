"""Django settings, built from the environment as rtcc/env.py reads it."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from rtcc import env as envmod

try:
    ENV = envmod.read()
except ImproperlyConfigured as _exc:
    # One line naming the variable, not two tracebacks (manage.py, daphne and celery all land here).
    raise SystemExit(f"rtcc: cannot start: {_exc}") from None
BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = ENV.data_dir
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = ENV.secret_key
DEBUG = ENV.debug
ALLOWED_HOSTS = ENV.allowed_hosts
EMBEDDED = ENV.embedded

INSTALLED_APPS = [
    "daphne",
    # Before django.contrib.auth, as daphne is before staticfiles: the first app listed that has a
    # command provides it (its createsuperuser validates a --noinput password too).
    "apps.accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "apps.core",
    "apps.integrations",
    "apps.audit",
    "apps.counters",
    "apps.devices",
    "apps.control",
    "apps.footage",
    "apps.briefings",
    "apps.alpr",
    "apps.live",
    "apps.leads",
    "apps.outcomes",
    "apps.console",
    "apps.simulator",
]

# Each runs natively in async mode under daphne (apps/core/middleware.py: Django's own
# middleware with their hooks on the event loop), so a request reaches its view without a hop
# to a thread per middleware.
MIDDLEWARE = [
    "apps.integrations.health.HealthProbeMiddleware",
    "apps.core.middleware.ApiErrorEnvelopeMiddleware",
    "apps.core.middleware.RequestSizeLimitMiddleware",
    "apps.core.middleware.QueryStringGuardMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",
    "apps.core.middleware.Security",  # django.middleware.security.SecurityMiddleware
    "apps.core.middleware.StaticFiles",  # whitenoise.middleware.WhiteNoiseMiddleware
    "apps.core.middleware.Sessions",  # django.contrib.sessions.middleware.SessionMiddleware
    "apps.core.middleware.Common",  # django.middleware.common.CommonMiddleware
    "apps.core.middleware.Csrf",  # django.middleware.csrf.CsrfViewMiddleware
    "apps.core.middleware.Authentication",  # django.contrib.auth.middleware.AuthenticationMiddleware
    "apps.accounts.sessions.SessionPolicyMiddleware",
    "apps.core.middleware.Messages",  # django.contrib.messages.middleware.MessageMiddleware
    "apps.core.middleware.XFrameOptions",  # django.middleware.clickjacking.XFrameOptionsMiddleware
]

ROOT_URLCONF = "rtcc.urls"
ASGI_APPLICATION = "rtcc.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {"default": ENV.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names (apps/core/staticfiles.py), served by WhiteNoise from this process.
    "staticfiles": {"BACKEND": "apps.core.staticfiles.HashedStaticStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 3600
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind the TLS proxy (RTCC_TRUSTED_PROXIES, apps/core/proxies.py): HSTS on every answer that came over TLS, and
# Secure cookies on those answers (apps.core.middleware.SecurityHeadersMiddleware).
SECURE_HSTS_SECONDS = 0 if DEBUG else 365 * 24 * 3600
SECURE_REFERRER_POLICY = "same-origin"
# The console's pages run only their own scripts and styles (static/console); style attributes
# in the templates are allowed, <style> elements and inline scripts are not.
RTCC_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        # hls.js (the live viewer) runs its demuxer in a worker it makes from a blob: URL
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
# Swagger UI (drf-spectacular's page) starts itself with an inline script.
RTCC_CSP_RELAXED_PREFIXES = ("/api/docs/",)
RTCC_CSP_DOCS = RTCC_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
X_FRAME_OPTIONS = "DENY"
# `manage.py check --deploy` false alarms, each covered otherwise (its section of README.md):
# W001, W002, W003: Django looks for its security, clickjacking and CSRF middleware by name, and
# MIDDLEWARE lists them as apps.core.middleware's subclasses (Security, XFrameOptions, Csrf).
# W010: the session cookie is Secure on every answer over TLS (SecurityHeadersMiddleware), not
# always: SESSION_COOKIE_SECURE would lock out a console reached over plain HTTP.
# W009: Django wants 50 characters; rtcc/env.py accepts 32 or more (256 bits of base64 is 43).
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003", "security.W009", "security.W010"]

# Request bodies: JSON API requests are small; photo uploads and disk-backend part uploads
# have their own limits, enforced by apps.core.middleware.RequestSizeLimitMiddleware.
RTCC_MAX_JSON_BODY = 1024 * 1024
RTCC_MAX_MEDIA_BODY = 25 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = RTCC_MAX_MEDIA_BODY
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Upper bounds per path prefix, larger than RTCC_MAX_JSON_BODY; apps add theirs here.
# Paths whose body is authorized before it is read: prefix -> "dotted.function(path)" returning
# a limit in bytes, or (status, code, message) to refuse (apps.core.bodylimits).
RTCC_BODY_GUARDS = {"/upload/": "apps.integrations.storage.upload_body_guard"}
RTCC_BODY_LIMITS = {
    "/api/v1/media": RTCC_MAX_MEDIA_BODY,
    "/upload/": 6 * 1024 * 1024 * 1024,  # disk-backend part PUTs: checked per part by footage
    "/api/v1/live/": 8 * 1024 * 1024,  # live view segment PUTs (apps/live): 8 MiB each
    # A plate reader's batch (up to 500 reads) with its images: at 1 MiB, 30 reads with a 160 KB
    # overview image each were a 413, for a batch the contract allows.
    "/api/v1/plate-reads": 16 * 1024 * 1024,
    # A hotlist's CSV, up to the import's own 200 MiB (RTCC_ALPR_MAX_IMPORT_BYTES) and the form's
    # framing: a state's list of a million plates is about 40 MB (the file spools to disk).
    r"^/api/v1/hotlists/[^/]+/import$": 201 * 1024 * 1024,
}
# The code of a 413 for a body sent without a length that grows past its path's limit, where the
# contract names one of its own (a first matching prefix; else too_large).
RTCC_BODY_GROWN_CODES = {"/api/v1/live/": "segment_too_large"}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if ENV.redis_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": ENV.redis_url}}

if ENV.redis_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "apps.core.layers.RedisChannelLayer",  # channels_redis, fewer round trips
            "CONFIG": {
                # redis-py 8 defaults (5 s socket timeout, 100 pooled connections) break
                # channels-redis' blocking reads under load.
                "hosts": [{"address": ENV.redis_url, "socket_timeout": None, "max_connections": 100_000}],
                "capacity": 1000,
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}}

# Celery: with REDIS_URL the worker and beat processes; without it tasks run in process.
CELERY_BROKER_URL = ENV.redis_url or "memory://localhost/"  # a host named: kombu warns without one
CELERY_TASK_ALWAYS_EAGER = ENV.redis_url is None
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# A broker outage of any length: reconnect forever (the heartbeat shows the worker absent meanwhile),
# and cancel acks_late tasks whose message goes back to the queue, so that no task runs twice at once.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_CONSUMER = "rtcc.worker:Consumer"  # survives a broker restart (see rtcc/worker.py)
CELERY_BEAT_SCHEDULER = "apps.core.heartbeat:HeartbeatScheduler"  # beat's heartbeat (apps.core.heartbeat)
# The worker and beat log through LOGGING below (its handler writes the request id of the task);
# Celery otherwise replaced that handler with its own, and no worker line carried an id.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic tasks: each app lists its own in apps/<app>/schedule.py as BEAT_SCHEDULE =
# {"name": {"task": "dotted.path", "schedule": seconds}} (a plain module, no Django imports).
# beat runs them in production; the embedded default runs them in a thread of the web process.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}
for _app in (
    "integrations",
    "audit",
    "counters",
    "accounts",
    "devices",
    "control",
    "footage",
    "briefings",
    "alpr",
    "live",
):
    try:
        _module = importlib.import_module(f"apps.{_app}.schedule")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"apps.{_app}.schedule":
            raise
        continue
    CELERY_BEAT_SCHEDULE.update(_module.BEAT_SCHEDULE)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.UserTokenAuthentication",
        "apps.devices.authentication.DeviceTokenAuthentication",
        "apps.accounts.authentication.ConsoleSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.negotiation.StrictContentNegotiation",  # ?format=xml: 400
    # JSON everywhere (the contract); an endpoint that takes a file says so itself (MultiPartParser:
    # a briefing's photo, a hotlist's CSV). A form-encoded or multipart body elsewhere is a 415.
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.SafeJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Not a rate limit: every body is parsed before the view runs, so that a malformed body or a
    # wrong media type is a 400 or 415 on an endpoint that takes no body too (apps.core.parsers).
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.parsers.BodyReadFirst"],
    "EXCEPTION_HANDLER": "apps.core.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "rtcc API",
    "DESCRIPTION": "Real-time crime center backend: devices, remote recording, evidence, briefings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Paginated lists as pages, errors in the envelope with their status codes (apps/core/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.describe_served_responses",
    ],
    # Choice sets that share a field name across components get names of their own (not "StateC20Enum").
    "ENUM_NAME_OVERRIDES": {
        "ClipStateEnum": "apps.footage.models.ClipState",
        "ClipTriggerEnum": "apps.footage.models.Trigger",
        "CommandStateEnum": "apps.control.models.CommandState",
        "DeliveryStateEnum": "apps.briefings.models.DeliveryState",
    },
}

# Accounts
RTCC_TOKEN_TTL = timedelta(hours=12)
RTCC_LOGIN_MAX_FAILURES = 5  # per username and address
# Over every username. A crime center's consoles reach rtcc from one address (its NAT or proxy): at
# this count one address spraying usernames is slowed, and a shift's mistyped passwords never lock
# the whole center out.
RTCC_LOGIN_MAX_FAILURES_PER_ADDRESS = 100
RTCC_LOGIN_MAX_FAILURES_PER_USER = 50  # over every address
RTCC_LOGIN_FAILURE_WINDOW = timedelta(minutes=10)
RTCC_LOGIN_LOCKOUT = timedelta(minutes=10)
# Housekeeping (apps/accounts/tasks.py): a token that expired or was revoked is deleted this long
# after it ended (the audit events that name it stay; nothing else refers to the row), and a login
# attempt once the lockout can no longer count it (RTCC_LOGIN_FAILURE_WINDOW + RTCC_LOGIN_LOCKOUT)
# and this margin have passed.
RTCC_TOKEN_KEEP_ENDED = timedelta(days=30)
RTCC_LOGIN_ATTEMPT_KEEP_MARGIN = timedelta(hours=1)
# Console sessions end after this long without a request (CJIS: at most 30 minutes).
RTCC_SESSION_IDLE_TIMEOUT = timedelta(minutes=30)

# Audit checkpoints (apps/audit/anchoring.py): the chain head signed with a key not in the
# database, kept in the object store (under Object Lock where the bucket has it).
RTCC_AUDIT_SIGNING_KEY = ENV.audit_signing_key
RTCC_AUDIT_CHECKPOINT_RETENTION = timedelta(days=7 * 365)

# Object storage (apps/integrations/storage.py) and push (apps/integrations/push.py)
RTCC_S3_BUCKET = ENV.s3_bucket
RTCC_S3_ENDPOINT = ENV.s3_endpoint
RTCC_STORAGE_DIR = DATA_DIR / "objects"
RTCC_FCM_CREDENTIALS = ENV.fcm_credentials
RTCC_FCM_ENDPOINT = ENV.fcm_endpoint or "https://fcm.googleapis.com"
RTCC_PUSH_OUTBOX_DIR = DATA_DIR / "outbox"
# Live view (apps/live): a session's time limit (renewed by asking again) and how long its
# segments are kept (they are not evidence: the recorded clip is).
RTCC_LIVE_MAX_SECONDS = ENV.live_max_seconds
RTCC_LIVE_RETENTION = ENV.live_retention
# The URL phones and cameras reach rtcc at (links in notifications); unset: the request's host.
RTCC_PUBLIC_URL = ENV.public_url

# Plate readers: reads with no hit are deleted this long after `read_at` (PROTOCOL.md "Plate readers")
RTCC_ALPR_READ_RETENTION = ENV.alpr_read_retention

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # `request_tag` is "[id] " on a line written for a request or a task it queued (apps/core/requestids.py)
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(request_tag)s%(message)s"}},
    "filters": {
        "request_id": {"()": "apps.core.requestids.WithRequestId"},
        "drop_already_logged": {"()": "apps.core.logs.DropAlreadyLogged"},
        "one_line": {"()": "apps.core.logs.OneLine"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "daphne": {"level": "WARNING"},
        # "Exception inside application" with a traceback, for errors rtcc logged in a line already
        "daphne.server": {"filters": ["drop_already_logged"]},
        # a Host the site does not serve: answered 400, logged as one line (not an ERROR and a traceback)
        "django.security.DisallowedHost": {"filters": ["one_line"]},
    },
}
