"""Django settings for Ludus, read from the environment with safe defaults.

Development defaults (``DEBUG=1``, SQLite, an insecure generated key) let ``make run`` work on
a bare machine. With ``DEBUG=0`` the service refuses to start on the default secret key and
turns on the production security settings checked by ``manage.py check --deploy``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from arena.env import env_bool, env_float, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LUDUS_VAR_DIR", str(BASE_DIR / "var")))

DEFAULT_SECRET_KEY = "ludus-insecure-development-key-change-me"  # noqa: S105
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
TESTING = "pytest" in sys.modules or env_bool("LUDUS_TESTING", False)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value when DEBUG is off "
        "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "arena",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "arena.validation.QueryStringMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "arena.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "arena.urls"
WSGI_APPLICATION = "arena.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'ludus.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        # A persistent connection is checked before the first query of each request, so after
        # a database restart no request fails on a connection that died meanwhile.
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web server and the worker write concurrently on a local run.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DB_POOL_SIZE := env_int("DB_POOL_SIZE", 0, minimum=0):
    # A psycopg pool per process, shared by its threads: fewer PostgreSQL backends than
    # threads means less contention inside PostgreSQL on a small machine (see bench/RESULTS.md).
    from psycopg_pool import ConnectionPool

    # the pool checks a connection before handing it out (the pool's CONN_HEALTH_CHECKS)
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 1,
            "max_size": DB_POOL_SIZE,
            "timeout": 30,
            "check": ConnectionPool.check_connection,
        }
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Django turns psycopg's prepared statements off (prepare_threshold None), which also
    # refuses an explicit execute(prepare=True). Django's own cursors bind on the client and
    # never prepare; only arena/services/votes_fast.py asks for it (LUDUS_VOTES_FAST_SQL), so
    # this threshold, never reached by anything else, only lets those requests through.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: the Celery broker and the cache. Without Redis (a laptop with only Python), ``make run``
# sets LUDUS_EAGER=1: tasks run in-process and the cache is local memory.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_EAGER = env_bool("LUDUS_EAGER", False)
CACHES: dict[str, dict[str, object]]
if CELERY_EAGER:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {
        "default": {
            # Django's RedisCache, reusing one redis client per pool (see arena/api/cache.py)
            "BACKEND": "arena.api.cache.RedisCache",
            "LOCATION": env_str("CACHE_URL", REDIS_URL),
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "ludus"),
            "TIMEOUT": None,
        }
    }

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = CELERY_EAGER
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540, minimum=1)
# Redis redelivers an unacknowledged task after the visibility timeout; keep it above the
# longest task so a slow task is not run twice, and short enough that a killed worker's
# tasks come back reasonably soon (the stuck-step sweep covers the rest).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900, minimum=10),
    # a half-open connection (Redis restarted, a NAT dropped it) is found by a PING, not a hang
    "health_check_interval": 10,
    "socket_keepalive": True,
    "socket_connect_timeout": 5,
    "retry_on_timeout": True,
}
# Redis restarts: the worker reconnects for as long as it takes (a supervisor restart is the
# fallback, not the plan); workers.broker keeps kombu's channels usable across the reconnect.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "workers.broker:Transport"
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_DEFAULT_QUEUE = "ludus"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "arena.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PARSER_CLASSES": [
        "arena.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "arena.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "arena.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "arena.api.throttles.AnonThrottle",
        "arena.api.throttles.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "600/min"),
        "user": env_str("THROTTLE_USER", "3000/min"),
        "votes": env_str("THROTTLE_VOTES", "120/min"),
        "votes_ip": env_str("THROTTLE_VOTES_IP", "1200/min"),
        "battles": env_str("THROTTLE_BATTLES", "240/min"),
        "battles_ip": env_str("THROTTLE_BATTLES_IP", "2400/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # ?format= is an API parameter (export format, tournament format), not a renderer override.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ludus API",
    "DESCRIPTION": "Tournaments and arena rankings for AI models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "ENUM_NAME_OVERRIDES": {
        "OutcomeEnum": "arena.models.Outcome",
        "VoteChoiceEnum": "arena.services.votes.VOTE_CHOICES",
        "CompetitorStatusEnum": "arena.models.Competitor.Status",
        "TournamentStatusEnum": "arena.models.Tournament.Status",
        "MatchStatusEnum": "arena.models.Match.Status",
        "JudgeRunStatusEnum": "arena.models.JudgeRun.Status",
    },
}

# Ludus-specific settings.
LUDUS_ALLOW_INTERNAL_ENDPOINTS = env_bool("LUDUS_ALLOW_INTERNAL_ENDPOINTS", False)
# Reverse proxies whose X-Forwarded-For is believed (none by default: REMOTE_ADDR is the client).
LUDUS_TRUSTED_PROXIES = env_networks("LUDUS_TRUSTED_PROXIES", [])
LUDUS_LEADERBOARD_DEBOUNCE_SECONDS = env_int("LUDUS_LEADERBOARD_DEBOUNCE_SECONDS", 2, minimum=0)
# Slow leaderboard parts (E[S] simulations, alpha-Rank and Elo bootstraps) are recomputed by the
# scheduled rebuild at most this often; a vote refreshes the other numbers at once.
LUDUS_LEADERBOARD_SLOW_SECONDS = env_int("LUDUS_LEADERBOARD_SLOW_SECONDS", 300, minimum=0)
# ... and no more often than its last computation time divided by this share, so refreshing any
# one slow part takes at most this share of a worker's time however large the data grows.
LUDUS_LEADERBOARD_SLOW_SHARE = env_float("LUDUS_LEADERBOARD_SLOW_SHARE", 0.1, minimum=0.001)
# How long a web process trusts the latest leaderboard ETag it read from the cache
# (0: ask every time).
LUDUS_LEADERBOARD_ETAG_MEMO_SECONDS = env_int("LUDUS_LEADERBOARD_ETAG_MEMO_SECONDS", 1, minimum=0)
# Idempotency-Key records older than this are pruned hourly (after which a key counts as new).
LUDUS_IDEMPOTENCY_RETENTION_HOURS = env_int("LUDUS_IDEMPOTENCY_RETENTION_HOURS", 24, minimum=1)
# The listing rule: a model with fewer battles or fewer distinct opponents in a board's data is
# provisional there (listed apart, never ranked above an established model).
LUDUS_LISTING_MIN_BATTLES = env_int("LUDUS_LISTING_MIN_BATTLES", 100, minimum=0)
LUDUS_LISTING_MIN_OPPONENTS = env_int("LUDUS_LISTING_MIN_OPPONENTS", 5, minimum=0)
# Largest battle file accepted by the import endpoint, in bytes.
LUDUS_IMPORT_MAX_BYTES = env_int("LUDUS_IMPORT_MAX_BYTES", 512 * 1024 * 1024, minimum=1)
# Seconds a served battle's signed token stays valid for a vote.
LUDUS_BATTLE_TOKEN_MAX_AGE = env_int("LUDUS_BATTLE_TOKEN_MAX_AGE", 3600, minimum=1)
# Votes read and written with two prepared statements (arena/services/votes_fast.py) instead
# of the ORM; PostgreSQL only, ignored elsewhere. On by default: half the Python work and about
# half the PostgreSQL CPU of a vote (bench/RESULTS.md); 0 behind a pooler that cannot keep
# prepared statements (PgBouncer in transaction mode before 1.21 or without
# max_prepared_statements).
LUDUS_VOTES_FAST_SQL = env_bool("LUDUS_VOTES_FAST_SQL", True)
# The open arena keeps this many battles ready and wants this many votes on each.
LUDUS_ARENA_POOL_SIZE = env_int("LUDUS_ARENA_POOL_SIZE", 20, minimum=0)
LUDUS_ARENA_VOTES_PER_BATTLE = env_int("LUDUS_ARENA_VOTES_PER_BATTLE", 3, minimum=1)
# Sampling to a target: the arena stops spending votes on models whose interval on the
# Bradley-Terry board is at most this wide (points, upper - lower; 0: never stop) and on pairs
# whose order is settled at this confidence.
LUDUS_ARENA_TARGET_WIDTH = env_float("LUDUS_ARENA_TARGET_WIDTH", 50.0, minimum=0.0)
LUDUS_ARENA_SETTLED_CONFIDENCE = env_float("LUDUS_ARENA_SETTLED_CONFIDENCE", 0.95, minimum=0.5)
if LUDUS_ARENA_SETTLED_CONFIDENCE >= 1.0:
    raise ImproperlyConfigured(
        f"LUDUS_ARENA_SETTLED_CONFIDENCE must be below 1; got {LUDUS_ARENA_SETTLED_CONFIDENCE:g}"
    )
# The currency of every admin price and so of every cost the site shows (ISO 4217 code).
LUDUS_COST_CURRENCY = env_str("LUDUS_COST_CURRENCY", "USD").strip().upper()
if not (
    len(LUDUS_COST_CURRENCY) == 3
    and LUDUS_COST_CURRENCY.isascii()
    and LUDUS_COST_CURRENCY.isalpha()
):
    raise ImproperlyConfigured(
        f"LUDUS_COST_CURRENCY must be a three-letter ISO 4217 code; got {LUDUS_COST_CURRENCY!r}"
    )
# Match steps: a competitor forfeits after this many failed attempts; a step whose match is
# untouched this long is taken for dead and re-sent by the sweep; retries back off from this.
LUDUS_FORFEIT_AFTER = env_int("LUDUS_FORFEIT_AFTER", 3, minimum=1)
LUDUS_STUCK_AFTER_SECONDS = env_int("LUDUS_STUCK_AFTER_SECONDS", 300, minimum=1)
LUDUS_STEP_RETRY_BASE_MS = env_int("LUDUS_STEP_RETRY_BASE_MS", 1000, minimum=1)
# Judge drift gate: before a re-judge run each judge re-grades the frozen calibration set
# (LUDUS_JUDGE_CALIBRATION_SET unless the run names one); a judge whose agreement with the
# frozen verdicts moved more than LUDUS_JUDGE_DRIFT_THRESHOLD from its pinned agreement is
# barred from the run. A judge-run match step is retried this many times before it is given up.
LUDUS_JUDGE_CALIBRATION_SET = env_str("LUDUS_JUDGE_CALIBRATION_SET", "default")
LUDUS_JUDGE_DRIFT_THRESHOLD = env_float("LUDUS_JUDGE_DRIFT_THRESHOLD", 0.1, minimum=0.0)
if LUDUS_JUDGE_DRIFT_THRESHOLD > 1.0:
    raise ImproperlyConfigured(
        f"LUDUS_JUDGE_DRIFT_THRESHOLD must be at most 1; got {LUDUS_JUDGE_DRIFT_THRESHOLD:g}"
    )
LUDUS_JUDGE_RUN_RETRIES = env_int("LUDUS_JUDGE_RUN_RETRIES", 5, minimum=0)
# Periods (seconds) of the Celery beat jobs in workers/celery.py.
LUDUS_LEADERBOARD_PERIOD = env_float("LUDUS_LEADERBOARD_PERIOD", 60.0, minimum=1.0)
LUDUS_SWEEP_PERIOD = env_float("LUDUS_SWEEP_PERIOD", 60.0, minimum=1.0)
LUDUS_PRUNE_PERIOD = env_float("LUDUS_PRUNE_PERIOD", 3600.0, minimum=1.0)
LUDUS_ARENA_TOPUP_PERIOD = env_float("LUDUS_ARENA_TOPUP_PERIOD", 30.0, minimum=1.0)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "arena.logformat.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

os.makedirs(VAR_DIR, exist_ok=True)
