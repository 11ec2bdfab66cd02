"""Vigil settings: one file, every value from the environment (see .env.example).

Without configuration Vigil runs in its embedded mode: a SQLite file and a Celery transport on
the filesystem, both under VIGIL_DATA_DIR. Set DATABASE_URL and REDIS_URL for production.
"""

import secrets
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_float, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("VIGIL_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data dir.

    A fresh machine gets a working, private key without configuration; production sets it.
    """
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Public base URL, used in links that leave Vigil (notifications, acknowledge links, webhooks).
BASE_URL = env_str("VIGIL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "accounts",
    "incidents",
    "oncall",
    "monitoring",
    "runbooks",
    "postmortems",
    "statuspage",
    "analytics",
    "drills",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.web.DomainErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "csp.context_processors.nonce",
                "accounts.context_processors.current_team",
            ],
        },
    }
]

# --- database -----------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "vigil.sqlite3",
            # Web, worker and beat share the file: WAL lets readers work during a write, and
            # IMMEDIATE transactions take the write lock up front instead of failing midway.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- cache and broker ---------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": DATA_DIR / "cache",
        }
    }

BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    for _sub in ("queue", "processed"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
else:
    # Long ETAs are unsafe on Redis (a task past the visibility timeout runs again), so no task
    # here waits in the broker for long: due times live in the database and sweeps pick them up.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long a publish may wait for the broker before the caller gives up (the sweep re-sends).
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}

# --- auth, sessions, security -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

HTTPS = env_bool("VIGIL_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto only when told to.
if env_bool("TRUST_PROXY_HEADERS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Client addresses are read from X-Forwarded-For only when the direct peer is one of these.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# Outbound HTTP (probes, webhooks, automated actions) refuses private, loopback and link-local
# addresses unless one of these networks names them, e.g. "127.0.0.1/32,10.20.0.0/16".
OUTBOUND_ALLOWED_NETWORKS = env_networks("PROBE_ALLOWED_NETWORKS")
OUTBOUND_TIMEOUT_SECONDS = env_float("OUTBOUND_TIMEOUT_SECONDS", 10.0)

# --- i18n, static -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "vigil@localhost")

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Scripts send "Authorization: Bearer vgl_..."; the browser uses its session (with CSRF).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.TeamPermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "config.api.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPage",
    "DEFAULT_THROTTLE_CLASSES": ["config.api.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Vigil API",
    "DESCRIPTION": (
        "Incident response for AI/LLM-backed services. Authenticate with "
        "`Authorization: Bearer <token>` (create one at /account/tokens/). Lists use cursor "
        "pagination (`next`/`previous` links). Every error answers "
        '`{"error": {"code", "message", "fields"}}`; see docs/api.md.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Status",
        "SeverityEnum": "incidents.models.Severity",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.add_error_responses",
    ],
}

# --- logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- oncall ---
# Seconds between beat sweeps that fire due escalation steps and resend due deliveries (<= 15).
ONCALL_SWEEP_SECONDS = env_float("ONCALL_SWEEP_SECONDS", 10.0)
# Attempts per delivery before it is marked failed; retries back off exponentially from the base.
ONCALL_DELIVERY_MAX_ATTEMPTS = env_int("ONCALL_DELIVERY_MAX_ATTEMPTS", 5, minimum=1)
ONCALL_RETRY_BASE_SECONDS = env_int("ONCALL_RETRY_BASE_SECONDS", 30, minimum=1)
# A worker's claim on a delivery expires after this; the sweep then retries it. Keep it above
# OUTBOUND_TIMEOUT_SECONDS and EMAIL_TIMEOUT.
ONCALL_DELIVERY_LEASE_SECONDS = env_int("ONCALL_DELIVERY_LEASE_SECONDS", 120, minimum=10)
# Lifetime of the signed acknowledge links in notifications (single use).
ONCALL_ACK_LINK_MAX_AGE = env_int("ONCALL_ACK_LINK_MAX_AGE", 3600, minimum=60)

# --- api ---
# Requests per API token (per user for browser sessions) and period: "<n>/sec|min|hour|day".
# Empty disables throttling. Over it the API answers 429 with Retry-After.
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "1200/min")

# --- monitoring ---------------------------------------------------------------------------
# How often the beat claims due probes; detection adds up to this much to interval x failures.
PROBE_SCHEDULER_TICK_SECONDS = env_int("PROBE_SCHEDULER_TICK_SECONDS", 1, minimum=1)
# /readyz fails when the scheduler has not ticked for this long (beat or probe workers stopped).
PROBE_SCHEDULER_STALE_SECONDS = env_int(
    "PROBE_SCHEDULER_STALE_SECONDS", max(30, 3 * PROBE_SCHEDULER_TICK_SECONDS), minimum=1
)
PROBE_BATCH_SIZE = env_int("PROBE_BATCH_SIZE", 1000, minimum=1)
# Results are written in chunks of this many while the rest of the batch is still running.
PROBE_WRITE_CHUNK = env_int("PROBE_WRITE_CHUNK", 200, minimum=1)
PROBE_CLAIM_LIMIT = env_int("PROBE_CLAIM_LIMIT", 20000, minimum=1)
# Concurrent requests per worker process, and per target host (0: no per-host limit).
PROBE_CONCURRENCY = env_int("PROBE_CONCURRENCY", 100, minimum=1)
PROBE_LIMIT_PER_HOST = env_int("PROBE_LIMIT_PER_HOST", 0, minimum=0)
PROBE_MAX_TIMEOUT_SECONDS = env_float("PROBE_MAX_TIMEOUT_SECONDS", 60.0)
PROBE_RESULT_RETENTION_DAYS = env_int("PROBE_RESULT_RETENTION_DAYS", 30, minimum=1)
PING_BODY_LIMIT = env_int("PING_BODY_LIMIT", 10_000, minimum=0)
# When set, /metrics asks for "Authorization: Bearer <token>".
METRICS_TOKEN = env_str("METRICS_TOKEN")

# --- ingest -------------------------------------------------------------------------------
# Largest webhook body accepted (413 beyond); PagerDuty's own limit on /v2/enqueue is 512 KiB.
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
INGEST_PAGERDUTY_MAX_BODY_BYTES = env_int(
    "INGEST_PAGERDUTY_MAX_BODY_BYTES", 512 * 1024, minimum=1024
)
# How much of each delivery's raw body is kept for inspection.
INGEST_RAW_BODY_CAP = env_int("INGEST_RAW_BODY_CAP", 64 * 1024, minimum=0)
# Deliveries per minute per integration unless the integration sets its own (429 beyond).
INGEST_RATE_LIMIT_PER_MINUTE = env_int("INGEST_RATE_LIMIT_PER_MINUTE", 600, minimum=0)
# Apply a delivery to alerts/incidents inside the request (1) or on the ingest queue (0).
INGEST_APPLY_INLINE = env_bool("INGEST_APPLY_INLINE", False)
# Seconds a web process reuses an integration it looked up (deactivation delay elsewhere).
INGEST_INTEGRATION_CACHE_SECONDS = env_int("INGEST_INTEGRATION_CACHE_SECONDS", 5, minimum=0)
# Seconds between sweeps that apply deliveries left pending (broker down, worker crash).
INGEST_SWEEP_SECONDS = env_int("INGEST_SWEEP_SECONDS", 15, minimum=1)
# Days applied deliveries (raw bodies) are kept; 0 = forever.
INGEST_EVENT_RETENTION_DAYS = env_int("INGEST_EVENT_RETENTION_DAYS", 30, minimum=0)

# --- ui ---
# Login throttle (per account and per client address): failed attempts allowed in one window,
# after which the login answers 429 with Retry-After until the window ends.
LOGIN_THROTTLE_ACCOUNT_FAILURES = env_int("LOGIN_THROTTLE_ACCOUNT_FAILURES", 5, minimum=1)
LOGIN_THROTTLE_IP_FAILURES = env_int("LOGIN_THROTTLE_IP_FAILURES", 30, minimum=1)
LOGIN_THROTTLE_WINDOW_SECONDS = env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 900, minimum=1)

# --- analytics and drills ---
# Days back a report may reach; older ranges are clamped to it (and the page says so).
ANALYTICS_RETENTION_DAYS = env_int("ANALYTICS_RETENTION_DAYS", 1095, minimum=1)
# Business hours for on-call load, in each person's time zone, as "first-last" (hours 0-24);
# pages outside them or on a weekend count as out of hours.
ANALYTICS_BUSINESS_HOURS = tuple(
    int(h) for h in env_str("ANALYTICS_BUSINESS_HOURS", "8-18").split("-", 1)
)
# Drill incidents page real people only when this is 1 (or the drill itself asks for it).
DRILLS_PAGE_PEOPLE = env_bool("DRILLS_PAGE_PEOPLE", False)
# Target for acknowledging a drill incident, in seconds (a drill may set its own).
DRILLS_ACK_TARGET_SECONDS = env_int("DRILLS_ACK_TARGET_SECONDS", 300, minimum=1)
