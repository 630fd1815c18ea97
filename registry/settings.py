"""Settings for the voice consent registry, read from the environment (django-environ).

``DJANGO_ENV`` selects the mode: ``development`` (default; insecure but convenient
defaults), ``test`` (used by the test suite) or ``production`` (refuses to start
without real secrets and passes ``manage.py check --deploy`` with no warnings).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer's .env (if any) fills what the environment leaves unset. Tests of the
# settings themselves turn it off so a local .env cannot mask a missing secret.
if env.bool("DJANGO_READ_DOT_ENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Under pytest the default is "test", so a bare `pytest` behaves like `make test`.
DJANGO_ENV = env.str("DJANGO_ENV", default="test" if "pytest" in sys.modules else "development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, test or production, not {DJANGO_ENV!r}"
    )
PRODUCTION = DJANGO_ENV == "production"

# Development-only keys. They are public (they are in this file), so production
# refuses them even when they are set explicitly.
_DEV_SECRET_KEY = "insecure-dev-only-secret-key-never-use-in-production-3f9a1c"  # noqa: S105
_DEV_PII_KEY = "jly4ibQ2eQUqYpTA2ud7hOPDJDqXB8pvj8qOIh1OGvQ="
_DEV_BLIND_INDEX_KEY = "mFsYznK3t7fFAcCpYbvkMNvzZU3TwVFS6XCs_YId2zQ="
_DEV_SIGNING_KEY = "sV55uWtt3lWmldj6TxuY-IBxR2hpV5OMWEUonpcKB3s="
_DEV_VALUES = {_DEV_SECRET_KEY, _DEV_PII_KEY, _DEV_BLIND_INDEX_KEY, _DEV_SIGNING_KEY}


def _secret(name: str, dev_default: str) -> str:
    return str(env.str(name, default="" if PRODUCTION else dev_default))


SECRET_KEY = _secret("SECRET_KEY", _DEV_SECRET_KEY)
# Fernet keys for personal data at rest, newest first. The first encrypts; all decrypt.
PII_ENCRYPTION_KEYS = [
    k.strip() for k in _secret("PII_ENCRYPTION_KEYS", _DEV_PII_KEY).split(",") if k.strip()
]
# HMAC key for the blind index that allows exact lookup of an encrypted email.
BLIND_INDEX_KEY = _secret("BLIND_INDEX_KEY", _DEV_BLIND_INDEX_KEY)
# Ed25519 private key (urlsafe base64 of the 32-byte seed) for receipts and cards.
SIGNING_KEY = _secret("SIGNING_KEY", _DEV_SIGNING_KEY)
# Public keys (urlsafe base64 of 32 raw bytes) of signing keys rotated out: still in the
# JWKS so receipts and cards signed with them keep verifying.
SIGNING_RETIRED_PUBLIC_KEYS = env.list("SIGNING_RETIRED_PUBLIC_KEYS", default=[])

# Who receipts name as the controller of the personal data (Kantara piiControllers).
CONSENT_CONTROLLER = {
    "piiController": env.str("CONSENT_CONTROLLER_NAME", default="Voice Consent Registry (demo)"),
    "contact": env.str("CONSENT_CONTROLLER_CONTACT", default="Data Protection Officer"),
    "address": env.str("CONSENT_CONTROLLER_ADDRESS", default="1 Example Street, Springfield"),
    "email": env.str("CONSENT_CONTROLLER_EMAIL", default="privacy@registry.example"),
    "phone": env.str("CONSENT_CONTROLLER_PHONE", default="+1 555 0100"),
}
# TrueType fonts embedded (subset) in every PDF people read; registry/pdf.py refuses to
# render without them. Japanese and Latin: IPAGothic (Debian: fonts-ipafont-gothic).
PDF_CJK_FONT_PATH = env.str(
    "PDF_CJK_FONT_PATH", default="/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"
)
# Latin, Greek, Cyrillic: DejaVu Sans, Sans Bold and Sans Mono (Debian: fonts-dejavu-core).
PDF_LATIN_FONT_DIR = env.str("PDF_LATIN_FONT_DIR", default="/usr/share/fonts/truetype/dejavu")
CONSENT_POLICY_URL = env.str("CONSENT_POLICY_URL", default="https://registry.example/privacy")


def _check_secrets() -> None:
    problems: list[str] = []
    required = {
        "SECRET_KEY": SECRET_KEY,
        "PII_ENCRYPTION_KEYS": ",".join(PII_ENCRYPTION_KEYS),
        "BLIND_INDEX_KEY": BLIND_INDEX_KEY,
        "SIGNING_KEY": SIGNING_KEY,
    }
    for name, value in required.items():
        if not value:
            problems.append(f"{name} is not set")
        elif PRODUCTION and (value in _DEV_VALUES or set(value.split(",")) & _DEV_VALUES):
            problems.append(f"{name} is the public development default")
    for key in PII_ENCRYPTION_KEYS:
        try:
            Fernet(key)
        except (ValueError, binascii.Error):
            problems.append("PII_ENCRYPTION_KEYS holds a value that is not a Fernet key")
    for name, value in (("BLIND_INDEX_KEY", BLIND_INDEX_KEY), ("SIGNING_KEY", SIGNING_KEY)):
        if value:
            try:
                decoded = base64.urlsafe_b64decode(value)
            except (ValueError, binascii.Error):
                decoded = b""
            if len(decoded) != 32:
                problems.append(f"{name} must be 32 random bytes in urlsafe base64")
    if PRODUCTION and len(SECRET_KEY) < 50:
        problems.append("SECRET_KEY must be at least 50 characters")
    if problems:
        raise ImproperlyConfigured(
            f"Refusing to start ({DJANGO_ENV}): " + "; ".join(sorted(set(problems)))
        )


_check_secrets()

DEBUG = False if PRODUCTION else env.bool("DEBUG", default=DJANGO_ENV == "development")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Refusing to start (production): ALLOWED_HOSTS is not set")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

LOCAL_DIR = Path(env.str("LOCAL_DIR", default=str(BASE_DIR / ".local")))

INSTALLED_APPS = [
    "registry.apps.RegistryAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "pgtrigger",
    "registry.apps.RegistryConfig",
    "consent.apps.ConsentConfig",
    "datasetcards.apps.DatasetCardsConfig",
    "compensation.apps.CompensationConfig",
    "speakers.apps.SpeakersConfig",
    "propagation.apps.PropagationConfig",
    "django_ratelimit",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: answers a locked-out staff sign-in.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "registry.urls"
WSGI_APPLICATION = "registry.wsgi.application"
ASGI_APPLICATION = "registry.asgi.application"
# Configurable so the admin is not at a guessable address in production.
ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/registry"),
}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if PRODUCTION else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# A read replica for bulk reads (manifests, eligibility exports): see registry.routers.
# The test suite mirrors the default database under the same alias to exercise routing.
if _replica_url := env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url_config(_replica_url)
    DATABASES["replica"]["ENGINE"] = "django.db.backends.postgresql"
elif DJANGO_ENV == "test":
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
if "replica" in DATABASES:
    DATABASE_ROUTERS = ["registry.routers.ReadReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if DJANGO_ENV == "test":
    # Hashing strength is not what the tests are about; keep them fast.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# Each name in its own language: the switcher is read by people who do not read the
# current one. A speaker is offered the subset their jurisdiction has notices in
# (speakers.selectors.speaker_languages); every one needs a complete catalog.
LANGUAGES = [("en", "English"), ("ja", "日本語"), ("de", "Deutsch"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's choice (Django's set_language) and the portal's sign-in share one cookie.
LANGUAGE_COOKIE_AGE = 365 * 86400
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = PRODUCTION
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
if not PRODUCTION:
    # whitenoise serves from the finders in development but warns if this is missing.
    STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Track audio and voiceprint templates: local files by default; any django-storages
# backend in production (e.g. AUDIO_STORAGE_BACKEND=storages.backends.s3.S3Storage
# with AUDIO_STORAGE_OPTIONS='{"bucket_name": "…"}'). Propagation deletes through it.
STORAGES["audio"] = {
    "BACKEND": env.str(
        "AUDIO_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
    ),
    "OPTIONS": env.json("AUDIO_STORAGE_OPTIONS", default={"location": str(LOCAL_DIR / "audio")}),
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# Redis the tests use directly (and their broker unless CELERY_BROKER_URL says otherwise).
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")


def _redis_db(url: str, db: int) -> str:
    """``url`` with its database number replaced: the cache never shares the broker's."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


# --- Cache: sign-in rate limits live here, so it must be shared by every web process
# and increment atomically (Redis). `make run` without Redis uses process memory.
CACHE_URL = env.str(
    "CACHE_URL",
    default=_redis_db(REDIS_URL, 2) if DJANGO_ENV != "development" else "",
)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
# django-ratelimit 4.1 predates Django's own RedisCache and warns that it is "not
# officially supported"; it increments atomically (INCR), which is what the check is for.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
if not CACHE_URL:
    # Development only: limits then count per gunicorn worker, which is fine locally.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")
RATELIMIT_VIEW = "speakers.views.rate_limited"
RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY", default="REMOTE_ADDR")
# Sign-in attempts per window: per client address, and per email address asked about.
SIGN_IN_RATE_PER_IP = env.str("SIGN_IN_RATE_PER_IP", default="20/15m")
SIGN_IN_RATE_PER_EMAIL = env.str("SIGN_IN_RATE_PER_EMAIL", default="5/15m")

# --- Speaker sign-in ---------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out staff sign-in before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",  # staff: username + password (admin)
    "speakers.backends.SpeakerEmailBackend",  # speakers: email + password they set
]
LOGIN_URL = "speakers:sign-in"

# Staff sign-in to the admin: a TOTP code after the password (django-otp); after
# STAFF_LOCKOUT_FAILURES wrong passwords or codes for one username from one address,
# that pair is locked out for STAFF_LOCKOUT_MINUTES (django-axes). Speakers' sign-in has
# its own rate limits (speakers.views).
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Voice consent registry")
AXES_ONLY_ADMIN_SITE = True
AXES_HANDLER = "registry.admin_site.StaffSignInAttempts"
AXES_FAILURE_LIMIT = env.int("STAFF_LOCKOUT_FAILURES", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("STAFF_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/registry/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "registry.access_log.client_ip"
# Failed attempts are kept (username, address, time); successful ones are not.
AXES_DISABLE_ACCESS_LOG = True
SIGN_IN_LINK_MINUTES = env.int("SIGN_IN_LINK_MINUTES", default=30)
# Public base URL used in emailed links (the request's host is not trusted for this).
PUBLIC_BASE_URL = env.str(
    "PUBLIC_BASE_URL", default="" if PRODUCTION else "http://127.0.0.1:8000"
).rstrip("/")
if PRODUCTION and not PUBLIC_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "Refusing to start (production): PUBLIC_BASE_URL must be the https:// address "
        "speakers reach (it goes into emailed sign-in links)"
    )
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# Messages live in the session, not in a cookie: an assisted-enrolment message carries a
# one-time sign-in link, which must not travel back and forth in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Email: sign-in links. Development writes each message to a file under LOCAL_DIR.
if _email_url := env.str("EMAIL_URL", default=""):
    globals().update(env.email_url_config(_email_url))
elif DJANGO_ENV == "development":
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(LOCAL_DIR / "mail")
elif PRODUCTION:
    raise ImproperlyConfigured("Refusing to start (production): EMAIL_URL is not set")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="consent@registry.example")

# --- Celery -----------------------------------------------------------------
# Without CELERY_BROKER_URL, a broker that needs no server: kombu's filesystem
# transport, one shared folder under LOCAL_DIR (development only; see README).
# Tests use real Redis instead.
_BROKER_DIR = LOCAL_DIR / "broker"
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL",
    default=REDIS_URL if DJANGO_ENV == "test" else "filesystem://localhost/",
)
if PRODUCTION and CELERY_BROKER_URL.startswith("filesystem://"):
    raise ImproperlyConfigured(
        "Refusing to start (production): CELERY_BROKER_URL must name a real broker (redis://…)"
    )
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    # The transport expects its folders to exist, in producers (web) and workers alike.
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    # A Redis message whose worker died is redelivered after this many seconds; the
    # outbox sweep (propagation) is what guarantees delivery, this only bounds delay.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="registry")
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "registry.tasks.record_worker_heartbeat",
        "schedule": WORKER_HEARTBEAT_SECONDS,
        "options": {"expires": WORKER_HEARTBEAT_SECONDS},
    },
    "expire-consents": {
        "task": "consent.tasks.expire_consents",
        "schedule": env.float("EXPIRE_CONSENTS_SECONDS", default=3600.0),
    },
    "accrue-earnings": {
        "task": "compensation.tasks.accrue_earnings",
        "schedule": env.float("ACCRUE_EARNINGS_SECONDS", default=300.0),
    },
    "audit-checkpoint": {
        "task": "consent.tasks.write_audit_checkpoint",
        "schedule": env.float("AUDIT_CHECKPOINT_SECONDS", default=86400.0),
    },
    "purge-idempotency-records": {
        "task": "consent.tasks.purge_idempotency_records",
        "schedule": env.float("PURGE_IDEMPOTENCY_SECONDS", default=3600.0),
    },
}
# --- Withdrawal propagation (see propagation/services.py) ------------------------------
PROPAGATION_MAX_ATTEMPTS = env.int("PROPAGATION_MAX_ATTEMPTS", default=8)
# Who hears of dead targets and overdue acknowledgements besides the compliance officers.
COMPLIANCE_ALERT_EMAILS = env.list("COMPLIANCE_ALERT_EMAILS", default=[])
PROPAGATION_RETRY_BASE_SECONDS = env.float("PROPAGATION_RETRY_BASE_SECONDS", default=30.0)
# Below CELERY_VISIBILITY_TIMEOUT: Redis hands a delayed message not yet acknowledged to
# another worker after that long, and a retry must not run twice at once.
PROPAGATION_RETRY_CAP_SECONDS = env.float("PROPAGATION_RETRY_CAP_SECONDS", default=1800.0)
# A claim older than this is presumed abandoned (its worker died and the message is lost).
PROPAGATION_LEASE_SECONDS = env.float("PROPAGATION_LEASE_SECONDS", default=600.0)
if (
    CELERY_BROKER_URL.startswith("redis")
    and env.int("CELERY_VISIBILITY_TIMEOUT", default=3600) <= PROPAGATION_RETRY_CAP_SECONDS
):
    raise ImproperlyConfigured(
        "PROPAGATION_RETRY_CAP_SECONDS must stay below CELERY_VISIBILITY_TIMEOUT: Redis "
        "would hand a delayed retry to a second worker while the first still holds it"
    )
# The sweep re-queues a due target only if nothing was queued for it this long.
PROPAGATION_REDISPATCH_SECONDS = env.float("PROPAGATION_REDISPATCH_SECONDS", default=300.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Notices carry no personal data, but production still sends them only over TLS.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=not PRODUCTION)
# Loopback and private addresses as endpoints: development and tests only (SSRF).
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool(
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=not PRODUCTION
)
# Days a model owner has to confirm it retrained or filtered (licenses set their own).
DERIVED_MODEL_ACK_DAYS = env.int("DERIVED_MODEL_ACK_DAYS", default=30)
# Biometric templates without a jurisdiction rule are kept at most this long after the
# last interaction (BIPA's 3 years, the strictest rule we know).
VOICEPRINT_RETENTION_DAYS = env.int("VOICEPRINT_RETENTION_DAYS", default=1095)
CELERY_BEAT_SCHEDULE.update(
    {
        "propagation-sweep": {
            "task": "propagation.tasks.sweep",
            "schedule": env.float("PROPAGATION_SWEEP_SECONDS", default=60.0),
        },
        "propagation-overdue-acks": {
            "task": "propagation.tasks.flag_overdue_acknowledgements",
            "schedule": env.float("OVERDUE_ACK_CHECK_SECONDS", default=3600.0),
        },
        "voiceprint-retention": {
            "task": "propagation.tasks.destroy_due_voiceprints",
            "schedule": env.float("VOICEPRINT_RETENTION_SECONDS", default=3600.0),
        },
    }
)
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(LOCAL_DIR / "celerybeat-schedule")
)

# --- REST framework ---------------------------------------------------------------
REST_FRAMEWORK = {
    # API tokens only: no session cookies on /api/ (so no CSRF surface there).
    "DEFAULT_AUTHENTICATION_CLASSES": ["registry.api.auth.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "registry.api.auth.HasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["registry.api.auth.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_RATE", default="600/min"),
        "anon": env.str("API_ANON_RATE", default="60/min"),
    },
    "EXCEPTION_HANDLER": "registry.api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
    # ``?format=`` is an endpoint's own parameter (manifest, export), never DRF's.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Voice consent registry API",
    "DESCRIPTION": "Licensed datasets, eligibility, manifests and withdrawals for dataset "
    "builders; consent capture and ingestion for the collection platform. Errors are "
    "RFC 9457 application/problem+json with a stable `code`. Request bodies are strict: a "
    "member an operation does not declare (answer-only ones such as `id` included) is "
    "refused with 400 `unknown_members`, and a member named twice in one object with 400 "
    "`duplicate_members`; both name the members (`members`, by path) and change nothing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per shared enum (else every app's `status`/`kind` collide).
    "ENUM_NAME_OVERRIDES": {
        "PurposeEnum": "consent.models.Purpose",
        "ConsentStateEnum": "consent.models.ConsentState",
        "ConsentActionEnum": "consent.models.ConsentAction",
        "EvidenceMethodEnum": "consent.models.EvidenceMethod",
        "ActorKindEnum": "consent.models.ActorKind",
        "OutboxKindEnum": "consent.models.OutboxKind",
        "SessionStatusEnum": "consent.models.SessionStatus",
        "PropagationStatusEnum": "propagation.models.PropagationStatus",
        "TargetKindEnum": "propagation.models.TargetKind",
        "TargetStatusEnum": "propagation.models.TargetStatus",
        "ReleaseStatusEnum": "datasetcards.models.ReleaseStatus",
        "DerivedModelStatusEnum": "registry.models.DerivedModelStatus",
        "WithdrawalActionEnum": "registry.models.WithdrawalAction",
        "RecordingStatusEnum": "registry.models.RecordingStatus",
        "NoticeKindEnum": "propagation.api.serializers.NOTICE_KINDS",
        "ReportedModelStatusEnum": "propagation.api.serializers.REPORTED_MODEL_STATUSES",
    },
}

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content Security Policy (django-csp): only this origin's scripts, styles, images and
# forms; no inline script or style anywhere, no framing, no plugins. The two API
# documentation pages (Swagger UI, Redoc) add inline *styles* for themselves
# (registry/api/urls.py); scripts stay strict there too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # the enrolment QR code is a data: SVG
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP inside the private network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
        # Only behind a proxy that strips and sets this header itself.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging: never personal data; records carry ids, not names or emails. --------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per webhook POST with its URL is noise; the delivery log has it.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # django-axes logs every admin sign-in at INFO; failures and lockouts stay.
        "axes": {"level": "WARNING"},
    },
}
