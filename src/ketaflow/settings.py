"""Django settings, read from the environment.

KETAFLOW_ENV selects the mode:
- ``development`` (default; what ``make run`` uses): SQLite under ``var/``, a secret key generated
  once into ``var/secret_key``, served on loopback over plain HTTP.
- ``production``: refuses to start without ``KETAFLOW_SECRET_KEY``, ``KETAFLOW_ALLOWED_HOSTS``
  and an audit key of its own (``KETAFLOW_AUDIT_KEY``, not stored beside the database); secure
  cookies, HSTS and HTTPS redirects.
- ``test``: used by the test suite.

``DATABASE_URL`` (e.g. ``postgres://user:pass@host:5432/ketaflow``) switches the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from pathlib import Path

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

django_stubs_ext.monkeypatch()  # lets generic Django classes be subscripted (ModelAdmin[Model])

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("KETAFLOW_VAR_DIR", Path.cwd() / "var")).resolve()

ENV = os.environ.get("KETAFLOW_ENV", "development")
if ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(f"KETAFLOW_ENV must be development, production or test, not {ENV!r}")
PRODUCTION = ENV == "production"
DEBUG = os.environ.get("KETAFLOW_DEBUG", "0") == "1" and not PRODUCTION


def _secret_key() -> str:
    key = os.environ.get("KETAFLOW_SECRET_KEY", "")
    if key:
        if PRODUCTION and len(key) < 50:
            raise ImproperlyConfigured("KETAFLOW_SECRET_KEY must be at least 50 characters")
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("production mode requires KETAFLOW_SECRET_KEY")
    if ENV == "test":
        return secrets.token_urlsafe(50)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()


def _trusted_proxy() -> str:
    """The address of the reverse proxy in front of ``ketaflow serve`` (e.g. ``127.0.0.1``), or
    "" without one. Only a request from that address may set the client's address and scheme
    (``X-Forwarded-For``, ``X-Forwarded-Proto``); waitress drops those headers from anyone else,
    so a client cannot forge its audited address or pretend to have used HTTPS."""
    value = os.environ.get("KETAFLOW_TRUSTED_PROXY", "").strip()
    if value in ("", "0"):
        return ""
    if value == "1":
        raise ImproperlyConfigured(
            "KETAFLOW_TRUSTED_PROXY is the reverse proxy's address (for example 127.0.0.1), not 1"
        )
    import ipaddress

    if value != "localhost":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ImproperlyConfigured(
                "KETAFLOW_TRUSTED_PROXY must be one IP address (the reverse proxy's), "
                f"not {value!r}"
            ) from None
    return value


TRUSTED_PROXY = _trusted_proxy()

_hosts = [h.strip() for h in os.environ.get("KETAFLOW_ALLOWED_HOSTS", "").split(",") if h.strip()]
if PRODUCTION and not _hosts:
    raise ImproperlyConfigured("production mode requires KETAFLOW_ALLOWED_HOSTS")
ALLOWED_HOSTS = _hosts or ["127.0.0.1", "localhost", "[::1]", "testserver"]

_default_db = f"sqlite:///{VAR_DIR / 'ketaflow.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_db), conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time, taken at the start of the transaction: the audit chain and the
    # controlled-substance ledger append under this lock.
    # Write-ahead logging: readers never block the writer and the writer never blocks readers,
    # so a long read (an ``audit verify`` of a large trail) no longer makes page views, which
    # write their audit entries, fail on "database is locked". A writer waits up to the
    # timeout for another writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server and a statement prepared once it has run five times on a
    # connection (psycopg's own threshold; Django's default binds on the client and prepares
    # nothing, for connection poolers): PostgreSQL then skips parsing and planning the same
    # few hundred statements on every request, about half its CPU a page
    # (benchmarks/page_costs.py --database-url; docs/performance-web.md, "Session 19"). A pooler
    # in transaction mode between the app and the server must keep prepared statements
    # (PgBouncer 1.21 or later with max_prepared_statements set; docs/deploy.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )


def _derived_audit_key(secret_key: str) -> str:
    return hashlib.sha256(b"ketaflow-audit:" + secret_key.encode()).hexdigest()


def _audit_key() -> str:
    """The audit chain's HMAC key (the ledger's and the checkpoints' keys derive from it).

    Development and tests derive it from the secret key. Production wants it set on its own,
    ``KETAFLOW_AUDIT_KEY``, 32+ characters, neither the secret key nor derived from it: a key
    that sits beside the database (``var/secret_key`` next to the SQLite file) lets whoever
    copies or edits the database rewrite the chains and recompute every hash. For the same
    reason a key file (``KETAFLOW_AUDIT_KEY_FILE``) in the SQLite database's folder is refused.
    """
    key = os.environ.get("KETAFLOW_AUDIT_KEY", "")
    key_file = os.environ.get("KETAFLOW_AUDIT_KEY_FILE", "")
    if key_file:
        path = Path(key_file).resolve()
        database = DATABASES["default"]
        if database["ENGINE"] == "django.db.backends.sqlite3":
            db_dir = Path(str(database["NAME"])).resolve().parent
            if path.parent == db_dir:
                raise ImproperlyConfigured(
                    f"KETAFLOW_AUDIT_KEY_FILE must not sit in the database's folder ({db_dir})"
                )
        if key:
            raise ImproperlyConfigured(
                "set KETAFLOW_AUDIT_KEY or KETAFLOW_AUDIT_KEY_FILE, not both"
            )
        try:
            key = path.read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"KETAFLOW_AUDIT_KEY_FILE {path}: cannot read it ({exc.strerror})"
            ) from None
    if PRODUCTION:
        if not key:
            raise ImproperlyConfigured(
                "production mode requires KETAFLOW_AUDIT_KEY (32+ characters, not the secret key)"
            )
        if len(key) < 32:
            raise ImproperlyConfigured("KETAFLOW_AUDIT_KEY must be at least 32 characters")
        if key == SECRET_KEY or key == _derived_audit_key(SECRET_KEY) or SECRET_KEY in key:
            raise ImproperlyConfigured(
                "KETAFLOW_AUDIT_KEY must be its own key, not the secret key or derived from it"
            )
    return key or _derived_audit_key(SECRET_KEY)


# The audit chain's HMAC key. Keep it stable: entries hashed with one key verify only with it.
AUDIT_HMAC_KEY = _audit_key()

# Signed checkpoints of the chains' heads, appended by the worker to a file outside the
# database (ketaflow.audit.checkpoints). Off in tests unless set.
_checkpoint_default = "" if ENV == "test" else str(VAR_DIR / "checkpoints.log")
CHECKPOINT_FILE = os.environ.get("KETAFLOW_CHECKPOINT_FILE", _checkpoint_default)

INSTALLED_APPS = [
    "ketaflow.web.admin_site.ClinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # django-ninja's own templates and static files: the API documentation served from this
    # origin (without it the documentation page loads Swagger UI from a CDN).
    "ninja",
    "ketaflow.accounts",
    "ketaflow.audit",
    "ketaflow.patients",
    "ketaflow.assessments",
    "ketaflow.candidacy",
    "ketaflow.treatment",
    "ketaflow.infusions",
    "ketaflow.ledger",
    "ketaflow.portal",
    "ketaflow.outcomes",
    "ketaflow.clinicsettings",
    "ketaflow.api",
    "ketaflow.fhir",
    "ketaflow.backup",
    "ketaflow.research",
    "ketaflow.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ketaflow.web.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ketaflow.web.middleware.ClinicTimeMiddleware",
    # django-otp's, its device read compiled once per process (ketaflow.accounts.second_factor).
    "ketaflow.accounts.second_factor.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ketaflow.accounts.sessions.SessionLimitsMiddleware",
    "ketaflow.portal.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: answers with the lockout page when a password or code check locked the account or
    # address during the request (django-axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ketaflow.urls"
WSGI_APPLICATION = "ketaflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            # display: the display layer's filters; fast: Django's {% url %} and |date with the
            # same output, cheaper (they replace Django's own in every template).
            "builtins": ["ketaflow.web.templatetags.display", "ketaflow.web.templatetags.fast"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ketaflow.web.context.navigation",
                "ketaflow.web.context.urgent_tasks",
                "ketaflow.web.context.idle_logoff",
                "ketaflow.backup.context.backup_warning",
            ],
        },
    }
]

# One field template (label, input, help, errors linked by aria-describedby): web/field.html.
FORM_RENDERER = "ketaflow.web.forms.FormRenderer"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses every password check (login, ledger witness, re-authentication) for a
    # locked-out account or address before any password is compared (django-axes).
    "ketaflow.accounts.backends.LockoutBackend",
    "ketaflow.accounts.backends.PasswordOnlyBackend",
    "ketaflow.accounts.backends.RolePermissionBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if ENV == "test":
    PASSWORD_HASHERS = ["ketaflow.accounts.hashers.TestArgon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("KETAFLOW_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Production serves collected files from here; development serves them from the apps directly.
STATIC_ROOT = VAR_DIR / "static" if PRODUCTION else None
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
WHITENOISE_USE_FINDERS = not PRODUCTION
# Collecting compresses only the hashed names templates link to (the unhashed copies are deleted),
# and not the source maps of the API documentation's bundles (megabytes nobody downloads): with
# brotli installed, compressing everything at its highest quality took over 30 s per collect.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
WHITENOISE_AUTOREFRESH = DEBUG

# Guessing limits (django-axes, kept in the database): every password or code check (staff and
# patient login, the second-factor step, the ledger witness, re-authentication) counts against
# the account and against the client's address; at the limit either is refused for the cool-off,
# even with the right password. The lockout page says the same whether the account exists.
AXES_FAILURE_LIMIT = int(os.environ.get("KETAFLOW_LOCKOUT_FAILURES", "10"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("KETAFLOW_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "ketaflow.audit.context.client_ip"
AXES_RESET_ON_SUCCESS = False  # a right password does not wipe the failures before it
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_ENABLE_ADMIN = False  # not clinic-scoped: the director's lockout page shows their own
AXES_DISABLE_ACCESS_LOG = True  # logins are in the audit trail
AXES_VERBOSE = False

# The second factor (django-otp: TOTP and single-use recovery codes). Required for every staff
# login in production and, by default, everywhere; patients always need it.
STAFF_SECOND_FACTOR_REQUIRED = (
    PRODUCTION or os.environ.get("KETAFLOW_STAFF_SECOND_FACTOR", "required") != "optional"
)
OTP_TOTP_ISSUER = "KetaFlow"
# django-otp's own throttle is off: the guessing limits above count every wrong code against the
# account and the address, with one cool-off for passwords and codes alike.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_TOTP_SYNC = False  # no learnt drift: the one step of tolerance either way is the window
OTP_STATIC_THROTTLE_FACTOR = 0

# Sessions and cookies (HIPAA automatic logoff: 15 idle minutes by default). The page logs off
# after SESSION_IDLE_SECONDS without a request (signout.js). The server saves an active session
# (moving its expiry on) every SESSION_TOUCH_SECONDS (ketaflow.accounts.sessions), not at every
# request: once a minute, or ten times per idle time when that is shorter. Its stored age is the
# idle time plus that interval, so the server ends an idle session no earlier than the page does
# and at most one interval after it.
SESSION_IDLE_SECONDS = int(os.environ.get("KETAFLOW_SESSION_IDLE_SECONDS", "900"))
SESSION_TOUCH_SECONDS = max(1, min(60, SESSION_IDLE_SECONDS // 10))
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS + SESSION_TOUCH_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
# Django's database sessions, read with a statement compiled once per process (issue 16).
SESSION_ENGINE = "ketaflow.accounts.session_store"
# Compare every prepared read (ketaflow.prepared) with the statement Django compiles: the tests.
KETAFLOW_PREPARED_CHECK = False
# The absolute lifetime of a login, however active (ketaflow.accounts.sessions): 12 hours.
SESSION_ABSOLUTE_SECONDS = int(os.environ.get("KETAFLOW_SESSION_MAX_SECONDS", "43200"))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = PRODUCTION and os.environ.get("KETAFLOW_SSL_REDIRECT", "1") == "1"
# The scheme comes from the WSGI server: ``ketaflow serve`` trusts X-Forwarded-Proto only from
# KETAFLOW_TRUSTED_PROXY and sets ``wsgi.url_scheme`` from it, so Django needs no header of its own.
SECURE_PROXY_SSL_HEADER = None
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HSTS preloading is the domain owner's decision (a submission to the browsers' list, hard to
# undo), not the app's: `ketaflow check` does not report it.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Strict Content-Security-Policy: everything from this origin, nothing inline, no third parties.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# Email (reminders and urgent-task notices; bodies never carry patient data). Development
# prints to the console, tests keep messages in memory, SMTP when KETAFLOW_EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("KETAFLOW_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("KETAFLOW_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("KETAFLOW_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KETAFLOW_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("KETAFLOW_EMAIL_USE_TLS", "1") == "1"
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = os.environ.get("KETAFLOW_EMAIL_FROM", "KetaFlow <no-reply@localhost>")
EMAIL_BACKEND = os.environ.get(
    "KETAFLOW_EMAIL_BACKEND",
    "django.core.mail.backends.locmem.EmailBackend"
    if ENV == "test"
    else "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)

# The patient portal. The address patients and staff are sent to in emails.
PORTAL_BASE_URL = os.environ.get(
    "KETAFLOW_BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
).rstrip("/")
# Reminders: a set number, a set interval apart, then stop. Default 3, one a day (Osmind's
# scheduled surveys: one reminder a day for 3 days until complete; comparable-software.md 1.1).
PORTAL_REMINDER_COUNT = int(os.environ.get("KETAFLOW_REMINDER_COUNT", "3"))
PORTAL_REMINDER_INTERVAL_HOURS = float(os.environ.get("KETAFLOW_REMINDER_INTERVAL_HOURS", "24"))
# The worker's loop (urgent-task email within a minute) and the outbox retry backoff.
WORKER_INTERVAL_SECONDS = float(os.environ.get("KETAFLOW_WORKER_INTERVAL_SECONDS", "30"))
OUTBOX_RETRY_BASE_SECONDS = 60
OUTBOX_RETRY_MAX_SECONDS = 3600

# The REST API: calls per token (django-ninja's rate syntax: N/s, N/min, N/h, N/day).
API_RATE = os.environ.get("KETAFLOW_API_RATE", "120/min")

# Encrypted backups (ketaflow.backup): their own key, never the secret or audit key. The worker
# writes one every KETAFLOW_BACKUP_INTERVAL_HOURS (0: none) into KETAFLOW_BACKUP_DIR and keeps the
# newest KETAFLOW_BACKUP_KEEP; without a key it writes none (and `ketaflow check` says so).
BACKUP_KEY = os.environ.get("KETAFLOW_BACKUP_KEY", "")
BACKUP_KEY_FILE = os.environ.get("KETAFLOW_BACKUP_KEY_FILE", "")
BACKUP_DIR = os.environ.get("KETAFLOW_BACKUP_DIR", str(VAR_DIR / "backups"))
BACKUP_INTERVAL_HOURS = float(os.environ.get("KETAFLOW_BACKUP_INTERVAL_HOURS", "24"))
BACKUP_KEEP = int(os.environ.get("KETAFLOW_BACKUP_KEEP", "14"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_client_errors": {"()": "ketaflow.web.logs.OneLineClientErrors"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["one_line_client_errors"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("KETAFLOW_LOG_LEVEL", "WARNING")},
    # django-axes logs each failed attempt as a warning; the audit trail records them already.
    "loggers": {"axes": {"level": "ERROR"}},
}
