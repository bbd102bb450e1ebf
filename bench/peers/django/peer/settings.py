"""Settings of the Django peer: DRF + simplejwt with its token blacklist, SQLite in WAL mode.

Benchmark-only: the secret key is fixed so that mint.sh and the server sign alike.
"""
import os
from datetime import timedelta
from pathlib import Path

DATADIR = Path(os.environ.get("PEER_DATADIR", Path(__file__).resolve().parent.parent / "data"))

SECRET_KEY = "signoff-bench-peer-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "peer",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "peer.urls"
WSGI_APPLICATION = "peer.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATADIR / "db.sqlite3",
        # Django >= 5.1 runs init_command on each new connection. journal_mode=WAL; synchronous
        # stays at SQLite's default (FULL). IMMEDIATE transactions avoid "database is locked" when
        # the two gunicorn workers write at once; timeout is the busy timeout in seconds.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        # One connection per worker, kept across requests (the usual production setting).
        "CONN_MAX_AGE": None,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
}

# No request logging; errors go to stderr.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    # django.request logs every 4xx as a warning; keep refused logouts quiet.
    "loggers": {"django.request": {"level": "ERROR"}},
}
