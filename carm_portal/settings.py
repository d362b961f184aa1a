"""Settings for the CARM portal.

Every knob comes from the environment (12-factor, django-environ). The defaults are the
zero-setup demo: a SQLite file and Celery tasks run eagerly in-process. Production imports
this module and tightens it (see ``carm_portal/production.py``).
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

from carm_portal.conf import DEFAULTS as CARM_DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
# The demo key is only for local use; production.py refuses to start without a real one.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-demo-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_celery_beat",
    "csp",
    "pgtrigger",
    "carm_portal",
    "accounts",
    "billing.ledger",
    "declarations",
    "billing",
    "billing.rpp",
    "billing.offsetting",
    "appeals",
    "brokers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (django-csp; the policy is below).
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The client IP for every audit event recorded while serving the request (accounts/audit.py).
    "accounts.audit.AuditRequestMiddleware",
    # The access gate evaluated once per (user, scope, day) per request (accounts/access.py).
    "accounts.access.GateMemoMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes must be last: it turns repeated failed logins into a lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "carm_portal.urls"
WSGI_APPLICATION = "carm_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "accounts.context_processors.acting_for",
                "brokers.context_processors.broker",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Lockout after repeated failed logins (django-axes).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind a reverse proxy, say how many proxies we run in front of the app (nginx alone: 1), so
# the lockout keys on the real client (X-Forwarded-For, N-th from the right), not the proxy's IP.
# One helper (carm_portal/client_ip.py) serves axes and the audit trail; no django-ipware needed.
CLIENT_IP_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "carm_portal.client_ip.client_ip"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_VERBOSE = env.bool("AXES_VERBOSE", default=False)

# Content-Security-Policy (django-csp 4): no inline script anywhere (page code lives in
# static/js/; a page that must inline one uses {{ request.csp_nonce }}); inline style attributes
# are allowed. tests/e2e/test_csp.py fails on any violation in the main pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="America/Toronto")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Private files (statement PDFs, appeal documents): never under STATIC/MEDIA URLs, only
# served by views that go through the access gate.
PRIVATE_STORAGE_ROOT = Path(env.str("PRIVATE_STORAGE_ROOT", default=str(BASE_DIR / "var" / "private")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CARM Portal <no-reply@carm-portal.local>")

# --- Celery -------------------------------------------------------------------------------
# No broker configured means the zero-setup demo: tasks run eagerly, in-process.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or env.str("REDIS_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# Without this a worker killed mid-task (OOM, SIGKILL) acks the message and the work is lost.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=660)
# Redis re-delivers unacked tasks (acks_late: a worker killed mid-task) after the visibility timeout.
# Sized to the longest task: above every hard time limit (billing chunks: 660 s), so a running task is
# never delivered twice, and short enough that a killed worker's messages come back within minutes.
# No task may use an ETA/countdown beyond it. The billing sweeper re-enqueues stale chunks sooner.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=900)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
# PDF rendering (WeasyPrint) runs on its own queue and workers: task names "<app>.pdf.<what>".
CELERY_TASK_ROUTES = {"*.pdf.*": {"queue": "pdf"}}
# Task modules not named tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ["billing.pdf_tasks", "declarations.cad_pdf"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Tokens expire after API_TOKEN_TTL and die with a password change (accounts/tokens.py).
        "accounts.tokens.ExpiringTokenAuthentication",
    ],
    # The one API permission: signed in, plus the view's officer_only / gate_scope (accounts.access).
    "DEFAULT_PERMISSION_CLASSES": ["accounts.access.GatePermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # django-filter, refusing (400) numbers no id column can hold: carm_portal/filters.py
    "DEFAULT_FILTER_BACKENDS": ["carm_portal.filters.BoundedFilterBackend"],
    "EXCEPTION_HANDLER": "carm_portal.api.exception_handler",
}
API_TOKEN_TTL = timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=30))
SPECTACULAR_SETTINGS = {
    "TITLE": "CARM Portal API",
    "DESCRIPTION": "Importer accounts, delegations, CADs, billing, security and appeals.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Offline docs: Swagger UI assets come from the sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Business rules (ASSUMPTIONs in domain/carm-rules.md are settings) --------------------
# Every key, its type, default and why are declared in carm_portal/conf.py; code reads them with
# ``carm("KEY")``. Here: the declared defaults, plus the ones the environment may override.
CARM = {
    **CARM_DEFAULTS,
    "ENFORCE_BN_CHECK_DIGIT": env.bool(
        "CARM_ENFORCE_BN_CHECK_DIGIT", default=CARM_DEFAULTS["ENFORCE_BN_CHECK_DIGIT"]
    ),
    "TRANSACTION_NUMBER_VALIDATOR": env.str(
        "CARM_TRANSACTION_NUMBER_VALIDATOR", default=CARM_DEFAULTS["TRANSACTION_NUMBER_VALIDATOR"]
    ),
    "CAD_AUTO_ACCEPT": env.bool("CARM_CAD_AUTO_ACCEPT", default=CARM_DEFAULTS["CAD_AUTO_ACCEPT"]),
    "RPP_MINIMUM": Decimal(env.str("CARM_RPP_MINIMUM", default=str(CARM_DEFAULTS["RPP_MINIMUM"]))),
    "APPEAL_DEADLINE_ROLLS_TO_BUSINESS_DAY": env.bool(
        "CARM_APPEAL_DEADLINE_ROLLS", default=CARM_DEFAULTS["APPEAL_DEADLINE_ROLLS_TO_BUSINESS_DAY"]
    ),
    "UPLOAD_MAX_BYTES": env.int("CARM_UPLOAD_MAX_BYTES", default=CARM_DEFAULTS["UPLOAD_MAX_BYTES"]),
    # The billing benchmark starts workers with a chunk size of its own.
    "BILLING_CHUNK_SIZE": env.int("CARM_BILLING_CHUNK_SIZE", default=CARM_DEFAULTS["BILLING_CHUNK_SIZE"]),
    "STATEMENT_PDF_MAX_LINES": env.int(
        "CARM_STATEMENT_PDF_MAX_LINES", default=CARM_DEFAULTS["STATEMENT_PDF_MAX_LINES"]
    ),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Eager Celery (the demo) would log every task at INFO; keep the console readable.
    "loggers": {"django.db.backends": {"level": "INFO"}, "celery": {"level": "WARNING"}},
}
