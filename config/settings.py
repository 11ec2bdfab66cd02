"""Vigil settings: one file, every value from the environment (see .env.example).

Without configuration Vigil runs in its embedded mode: a SQLite file and a Celery transport on
the filesystem, both under VIGIL_DATA_DIR. Set DATABASE_URL and REDIS_URL for production.
"""

import secrets
from pathlib import Path

import dj_database_url

from config import broker
from config.env import env_bool, env_float, env_int, env_list, env_networks, env_str
from config.logs import logging_config

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
# Unset: pages that show a URL to copy (webhook and ping URLs) use the request's own host.
BASE_URL_CONFIGURED = bool(env_str("VIGIL_BASE_URL", ""))

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
    "ops",
    "llm",
    "analytics",
    "drills",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.nul.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.logs.RequestContextMiddleware",
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
            # {{ incident.severity|severity_label }} everywhere without a {% load %}.
            "builtins": ["incidents.templatetags.severity"],
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
# redis://..., amqp://... (RabbitMQ: durable queues, publisher confirms) or filesystem://.
# The host is ignored by the filesystem transport; naming it spares kombu's "No hostname was
# supplied" warning on every connection.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS = broker.transport_options(CELERY_BROKER_URL, broker_dir=BROKER_DIR)
EMBEDDED_BROKER = broker.transport_of(CELERY_BROKER_URL) == "filesystem"
if EMBEDDED_BROKER:
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
# RabbitMQ only: "classic" queues or "quorum" (replicated over a RabbitMQ cluster). RabbitMQ
# refuses to redeclare a queue as another type: delete the four queues before switching.
RABBITMQ_QUEUE_TYPE = env_str("RABBITMQ_QUEUE_TYPE", "classic").lower()
CELERY_TASK_QUEUES = broker.declare_queues(CELERY_BROKER_URL, RABBITMQ_QUEUE_TYPE)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# On RabbitMQ a task whose worker lost the broker comes back to another worker at once
# (acks_late): the worker stops its copy rather than run it twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = (
    broker.transport_of(CELERY_BROKER_URL) == "amqp"
)
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
# Team invites (accounts.invites): days a link stays valid, and whether a person without an
# account may register a local one (username + password) through an invite. Off when people
# come only through single sign-on.
TEAM_INVITE_DAYS = env_int("TEAM_INVITE_DAYS", 7, minimum=1)
LOCAL_ACCOUNTS_ENABLED = env_bool("LOCAL_ACCOUNTS_ENABLED", True)

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
# The languages Vigil has catalogs for (status pages may declare others for their own texts).
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
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
# Without configuration mail is written to files under VIGIL_DATA_DIR/mail (one per message,
# linked from the delivery on the incident); production sets the SMTP backend.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = Path(env_str("EMAIL_FILE_PATH") or DATA_DIR / "mail")
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
        "config.api.FilterBackend",
        "config.api.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPage",
    "DEFAULT_THROTTLE_CLASSES": ["config.api.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api.SafeJSONParser"],
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
        "ComponentStatusEnum": "statuspage.models.ComponentStatus",
        "PublicUpdateStatusEnum": "statuspage.models.UpdateStatus",
        "SubscriberKindEnum": "statuspage.models.SubscriberKind",
        "MaintenanceStatusEnum": "statuspage.models.MaintenanceStatus",
        "IntegrationKindEnum": "incidents.models.IntegrationKind",
        "ProbeStateEnum": "monitoring.models.ProbeState",
        "PostMortemStatusEnum": "postmortems.models.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.add_error_responses",
    ],
}

# --- logging ------------------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line with request id, user, team, incident and task id
# (config/logs.py); "text" (default) is readable in development.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
# One access line per request (logger vigil.request) with method, path, status and duration.
LOG_REQUESTS = env_bool("LOG_REQUESTS", True)
LOGGING = logging_config(fmt=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))

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
# Pending deliveries a worker claims and applies at once, coalesced by group (issue 12).
INGEST_APPLY_BATCH_SIZE = env_int("INGEST_APPLY_BATCH_SIZE", 500, minimum=1)
# Seconds one ingest task applies before it hands its worker back (and queues itself again).
INGEST_TASK_SECONDS = env_float("INGEST_TASK_SECONDS", 5.0)
# Seconds a web process remembers a group it accepted; a group it has not seen for that long
# is marked urgent (likely a new outage) and applied before queued repeats.
INGEST_URGENT_MEMORY_SECONDS = env_int("INGEST_URGENT_MEMORY_SECONDS", 600, minimum=0)

# --- incident room (issue 17) ---
# Seconds between beat sweeps waking snoozed incidents whose snooze ran out.
SNOOZE_SWEEP_SECONDS = env_float("SNOOZE_SWEEP_SECONDS", 10.0)

# Back-pressure (incidents/backpressure.py): past either bound the endpoints still accept (2xx)
# but rollups, retention and non-urgent sweeps wait; 0 turns a bound off. Re-measured this often.
INGEST_BACKLOG_SHED_DEPTH = env_int("INGEST_BACKLOG_SHED_DEPTH", 5000, minimum=0)
INGEST_BACKLOG_SHED_AGE_SECONDS = env_int("INGEST_BACKLOG_SHED_AGE_SECONDS", 30, minimum=0)
INGEST_BACKLOG_CHECK_SECONDS = env_int("INGEST_BACKLOG_CHECK_SECONDS", 5, minimum=1)

# --- domain event outbox (issue 11) ---
# Seconds between beat sweeps re-dispatching domain events whose receiver did not finish.
EVENTS_SWEEP_SECONDS = env_float("EVENTS_SWEEP_SECONDS", 3.0)
# Loops that open many incidents (ingest batches, probe storms) hand the domain events of
# each commit to a worker (notify queue) instead of running the receivers themselves (1).
EVENTS_DEFER_BATCH_DISPATCH = env_bool("EVENTS_DEFER_BATCH_DISPATCH", True)
# An event the request did not dispatch becomes due for the sweep this many seconds after commit.
EVENTS_REDISPATCH_AFTER_SECONDS = env_float("EVENTS_REDISPATCH_AFTER_SECONDS", 3.0)
# Backoff of a failing receiver: base seconds, doubled per failure, capped (it never gives up).
EVENTS_RETRY_BASE_SECONDS = env_float("EVENTS_RETRY_BASE_SECONDS", 5.0)
EVENTS_RETRY_MAX_SECONDS = env_float("EVENTS_RETRY_MAX_SECONDS", 600.0)
# /readyz reports (without failing readiness) receivers with events undispatched this long.
EVENTS_STUCK_SECONDS = env_int("EVENTS_STUCK_SECONDS", 60, minimum=1)
# Days dispatched outbox rows are kept (the timeline entries stay forever); 0 = forever.
EVENTS_RETENTION_DAYS = env_int("EVENTS_RETENTION_DAYS", 7, minimum=0)
# Seconds between escalation audits; a step overdue by more than the grace is repaired.
ONCALL_AUDIT_SECONDS = env_int("ONCALL_AUDIT_SECONDS", 60, minimum=5)
ONCALL_AUDIT_GRACE_SECONDS = env_int("ONCALL_AUDIT_GRACE_SECONDS", 60, minimum=5)

# --- ui ---
# Login throttle (per account and per client address): failed attempts allowed in one window,
# after which the login answers 429 with Retry-After until the window ends.
LOGIN_THROTTLE_ACCOUNT_FAILURES = env_int("LOGIN_THROTTLE_ACCOUNT_FAILURES", 5, minimum=1)
LOGIN_THROTTLE_IP_FAILURES = env_int("LOGIN_THROTTLE_IP_FAILURES", 30, minimum=1)
LOGIN_THROTTLE_WINDOW_SECONDS = env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 900, minimum=1)

# --- production: paging channels, single sign-on, backups, self-watch, logs (issue 18) ---
# Telegram Bot API base and the bot token used by personal Telegram contact methods (a team
# channel may carry its own token as its secret).
TELEGRAM_API_BASE = env_str("TELEGRAM_API_BASE", "https://api.telegram.org")
TELEGRAM_BOT_TOKEN = env_str("TELEGRAM_BOT_TOKEN")
# SMS and voice calls through a Twilio-compatible API (account SID, auth token, sender number).
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "https://api.twilio.com")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")

# Single sign-on with OpenID Connect (mozilla-django-oidc, authorization code + PKCE). Enabled
# when OIDC_RP_CLIENT_ID is set; local accounts keep working beside it. docs/deploy.md#sso.
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT")
# The provider's end_session_endpoint: logging out of Vigil also ends the provider session.
OIDC_OP_LOGOUT_ENDPOINT = env_str("OIDC_OP_LOGOUT_ENDPOINT")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the provider logout
OIDC_OP_LOGOUT_URL_METHOD = "accounts.sso.provider_logout_url"
OIDC_AUTHENTICATE_CLASS = "accounts.sso.SSOLoginStart"
LOGIN_REDIRECT_URL_FAILURE = "/sso/refused/"
# Claim holding the person's groups, and which group gives which role in which team:
# "group=team-slug:role,..." (roles viewer, responder, manager, admin). A person none of whose
# groups is mapped is refused with an "ask your admin" page and no account is created.
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_GROUP_MAP = env_str("OIDC_GROUP_MAP")
OIDC_LOGIN_LABEL = env_str("OIDC_LOGIN_LABEL", "Log in with your company account")
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "accounts.sso.VigilOIDCBackend",
]

# Backups of Vigil's own database (manage.py backup / restore / verify-backup, docs/deploy.md).
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(DATA_DIR / "backups")))
# Backups kept in BACKUP_DIR and BACKUP_COPY_DIR; older ones are deleted after each backup.
BACKUP_KEEP = env_int("BACKUP_KEEP", 14, minimum=1)
# Hours between backups taken by beat; 0 turns the scheduled backup off.
BACKUP_INTERVAL_HOURS = env_int("BACKUP_INTERVAL_HOURS", 24, minimum=0)
# Optional second copy: another directory (a mounted volume) and/or S3-compatible storage.
BACKUP_COPY_DIR = env_str("BACKUP_COPY_DIR")
BACKUP_S3_BUCKET = env_str("BACKUP_S3_BUCKET")
BACKUP_S3_PREFIX = env_str("BACKUP_S3_PREFIX", "vigil/")
BACKUP_S3_ENDPOINT_URL = env_str("BACKUP_S3_ENDPOINT_URL")
# Heartbeat pinged after each backup (/fail appended when it failed), e.g. a Vigil /ping/<uuid>.
BACKUP_HEARTBEAT_URL = env_str("BACKUP_HEARTBEAT_URL")
# Seconds between RPO guard checks (age of each service's last good backup against its RPO).
RPO_GUARD_INTERVAL_SECONDS = env_int("RPO_GUARD_INTERVAL_SECONDS", 60, minimum=5)
# Self-watch: beat ticks this often; a dead-man's-switch URL (a second Vigil's /ping/<uuid> or
# any healthchecks-style service) is pinged on each tick that a worker runs.
SELFWATCH_INTERVAL_SECONDS = env_int("SELFWATCH_INTERVAL_SECONDS", 60, minimum=5)
SELFWATCH_PING_URL = env_str("SELFWATCH_PING_URL")
# Unhealthy when no tick was sent (beat) or run (workers) for this long, or when more ingest
# deliveries than SELFWATCH_BACKLOG_LIMIT wait longer than SELFWATCH_BACKLOG_SECONDS.
SELFWATCH_STALE_SECONDS = env_int("SELFWATCH_STALE_SECONDS", 180, minimum=10)
SELFWATCH_BACKLOG_LIMIT = env_int("SELFWATCH_BACKLOG_LIMIT", 1000, minimum=0)
SELFWATCH_BACKLOG_SECONDS = env_int("SELFWATCH_BACKLOG_SECONDS", 120, minimum=1)
# Severity of the incident the RPO guard opens when a backup is older than the service's RPO.
RPO_GUARD_SEVERITY = env_int("RPO_GUARD_SEVERITY", 3, minimum=1)
# --- llm ----------------------------------------------------------------------------------
# Incident severity per depth of the active route: "tier:severity" pairs and "none" for no tier
# left (deeper tiers than listed take the last tier's severity). Tier 1 resolves the incident.
LLM_ROUTE_SEVERITY = env_str("LLM_ROUTE_SEVERITY", "2:2,3:3,none:5")
# Seconds the route answer is served from the cache before it is rebuilt (changes purge it).
LLM_ROUTE_CACHE_SECONDS = env_int("LLM_ROUTE_CACHE_SECONDS", 300, minimum=1)
# Seconds a web process remembers a checked API token, the services its user may use for the route
# and telemetry, and their endpoints (llm/fastpath.py; changes bump the access generation and
# take effect at once; this bounds changes that bypass model signals). 0: ask every time.
LLM_ROUTE_ACCESS_CACHE_SECONDS = env_int("LLM_ROUTE_ACCESS_CACHE_SECONDS", 5, minimum=0)
# Most events per POST /api/v1/telemetry request (400 beyond).
LLM_TELEMETRY_MAX_EVENTS = env_int("LLM_TELEMETRY_MAX_EVENTS", 1000, minimum=1)
# Days raw telemetry events and model probe results are kept (per-minute rollups stay).
LLM_TELEMETRY_RETENTION_DAYS = env_int("LLM_TELEMETRY_RETENTION_DAYS", 14, minimum=1)
# Days per-minute rollups are kept.
LLM_ROLLUP_RETENTION_DAYS = env_int("LLM_ROLLUP_RETENTION_DAYS", 90, minimum=1)
# Anomaly detection: weeks of history per hour of the week, band width in scaled MADs, and the
# fewest calls in an hour for it to be judged.
LLM_BASELINE_WEEKS = env_int("LLM_BASELINE_WEEKS", 4, minimum=1)
LLM_ANOMALY_MADS = env_float("LLM_ANOMALY_MADS", 3.0)
LLM_ANOMALY_MIN_CALLS = env_int("LLM_ANOMALY_MIN_CALLS", 20, minimum=1)
# Attempts per route webhook before it is marked failed (exponential backoff from 10 s).
LLM_WEBHOOK_MAX_ATTEMPTS = env_int("LLM_WEBHOOK_MAX_ATTEMPTS", 5, minimum=1)
# --- statuspage ---
# Seconds public status pages, summary.json, feeds, badges and degradation answers are cached
# (and the max-age they announce). Changes invalidate at once; this bounds override expiry.
STATUSPAGE_CACHE_SECONDS = env_int("STATUSPAGE_CACHE_SECONDS", 15, minimum=1)
# Seconds between sweeps that start and complete maintenance windows.
STATUSPAGE_SWEEP_SECONDS = env_int("STATUSPAGE_SWEEP_SECONDS", 30, minimum=1)
# Messages one subscriber receives per hour at most; later ones wait for the next hour.
STATUSPAGE_SUBSCRIBER_MAX_PER_HOUR = env_int("STATUSPAGE_SUBSCRIBER_MAX_PER_HOUR", 20, minimum=1)
# Seconds a subscription confirmation or unsubscribe link stays valid.
STATUSPAGE_LINK_MAX_AGE = env_int("STATUSPAGE_LINK_MAX_AGE", 7 * 86400, minimum=60)
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
