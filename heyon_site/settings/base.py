"""Settings shared by every environment; values come from the environment.

Every variable is listed in the README's settings table. Nothing here is a secret:
``local.py`` and ``test.py`` supply safe development values, ``production.py``
insists on real ones.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "accounts.apps.HeyonAdminConfig",  # Django admin, every change audited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "crispy_forms",
    "crispy_bootstrap5",
    "phonenumber_field",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "reviews",
    "billing",
    "customers",
    # --- the official app's JSON API (issue 17) ---
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
]

MIDDLEWARE = [
    "heyon_site.observability.RequestIdMiddleware",
    # A NUL byte anywhere in the request is a 400 before any view or database lookup sees it.
    "heyon_site.security.NulByteMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A dropped database connection in a view becomes a 503 "try again" page.
    "heyon_site.errors.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # What a signed-in person reads stays out of the browser's and any proxy's cache.
    "heyon_site.security.PrivatePagesMiddleware",
    # After authentication: a signed-in person's language is the one on their account.
    "accounts.middleware.ChosenLanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "heyon_site.urls"
WSGI_APPLICATION = "heyon_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "heyon_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.site_chrome",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep each process's database connection for CONN_MAX_AGE seconds instead of opening one
# per request; a connection
# that broke meanwhile is noticed and replaced before the request uses it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# On PostgreSQL, parameters are bound on the server and a query run DATABASE_PREPARE_THRESHOLD
# times on a connection is prepared there, so PostgreSQL parses and plans it once per
# connection instead of at every request (Django's default binds on the client and never
# prepares). Behind
# PgBouncer in transaction mode this needs PgBouncer 1.21+ with max_prepared_statements
# (docs/DEPLOY.md); DATABASE_PREPARE_THRESHOLD=off turns preparing off, and
# DATABASE_SERVER_SIDE_BINDING=false goes back to Django's client-side binding.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_SERVER_SIDE_BINDING", True):
    _prepare_threshold = env("DATABASE_PREPARE_THRESHOLD", default="5")
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=None if _prepare_threshold.lower() in ("off", "none", "") else int(_prepare_threshold),
    )
# The embedded default (SQLite) serves a few people at once. In WAL mode readers do not wait
# for the writer; a writer that finds the database busy waits up to SQLITE_BUSY_SECONDS for
# its turn instead of failing at once; and every transaction takes the write lock when it
# begins (IMMEDIATE), because a transaction that read first and then wants to write while
# another writes is refused at once ("database is locked"), whatever the busy timeout.
SQLITE_BUSY_SECONDS = 20
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE",
        timeout=SQLITE_BUSY_SECONDS,
        # WAL stays on in the database file; synchronous=NORMAL is WAL's usual pairing (a commit
        # is durable against a crash of the process, and of the machine but for its last moments).
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses locked-out identifiers and IPs before any lookup.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.IdentifierBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "customers:account_centre"
LOGOUT_REDIRECT_URL = "home"

# Internationalisation: Simplified Chinese first, English one click away.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "heyon_site" / "static"]
# Private files (ID photos, receipts) live under MEDIA_ROOT but MEDIA_URL is never
# routed: they are served only by permission-checked views.
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
PRIVATE_MEDIA_ROOT = env("PRIVATE_MEDIA_ROOT", default=str(Path(MEDIA_ROOT) / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None, "file_permissions_mode": 0o600},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# S3-compatible object storage for ID photos when a bucket is named (a private bucket:
# files are streamed through the permission-checked views). See heyon_site/storage.py.
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    from heyon_site.storage import s3_storages

    STORAGES.update(
        s3_storages(
            bucket_name=AWS_STORAGE_BUCKET_NAME,
            endpoint_url=env("AWS_S3_ENDPOINT_URL", default=None),
            region_name=env("AWS_S3_REGION_NAME", default=None),
            access_key=env("AWS_ACCESS_KEY_ID", default=None),
            secret_key=env("AWS_SECRET_ACCESS_KEY", default=None),
            addressing_style=env("AWS_S3_ADDRESSING_STYLE", default="auto"),
        )
    )

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

PHONENUMBER_DEFAULT_REGION = "CN"
PHONENUMBER_DB_FORMAT = "E164"

# Email: Django's own backends; the console one by default.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Heyon <no-reply@heyon.example>")

# SMS: a short name (console, file, locmem, aliyun, tencent) or a dotted path to a backend class.
SMS_BACKEND = env("SMS_BACKEND", default="console")
SMS_FILE_PATH = env("SMS_FILE_PATH", default=str(BASE_DIR / "var" / "sms"))
# ---- SMS providers (accounts/sms_providers.py; docs/DEPLOY.md "SMS providers") ----
# The approved signature (签名) and one approved template per message kind:
# {"<kind key>": "<template id>"} or {"<kind key>": {"zh-hans": "<id>", "en": "<id>"}}, as JSON
# in SMS_TEMPLATES or in the file SMS_TEMPLATES_FILE names (accounts/message_kinds.py lists the kinds).
SMS_SIGN_NAME = env("SMS_SIGN_NAME", default="Heyon")
SMS_TEMPLATES = env.json("SMS_TEMPLATES", default={})
SMS_TEMPLATES_FILE = env("SMS_TEMPLATES_FILE", default="")
# At most this many SMS to one number per day, whatever sends them (0 = no cap).
SMS_DAILY_CAP_PER_NUMBER = env.int("SMS_DAILY_CAP_PER_NUMBER", default=20)
SMS_PROVIDER_TIMEOUT_SECONDS = env.int("SMS_PROVIDER_TIMEOUT_SECONDS", default=10)
# Alibaba Cloud SMS (dysmsapi). Secrets from the environment, or from the files the *_FILE variables name.
ALIYUN_SMS_ACCESS_KEY_ID = env("ALIYUN_SMS_ACCESS_KEY_ID", default="")
ALIYUN_SMS_ACCESS_KEY_SECRET = env("ALIYUN_SMS_ACCESS_KEY_SECRET", default="")
ALIYUN_SMS_ACCESS_KEY_SECRET_FILE = env("ALIYUN_SMS_ACCESS_KEY_SECRET_FILE", default="")
ALIYUN_SMS_ENDPOINT = env("ALIYUN_SMS_ENDPOINT", default="dysmsapi.aliyuncs.com")
ALIYUN_SMS_PROTOCOL = env("ALIYUN_SMS_PROTOCOL", default="https")
# Tencent Cloud SMS (sms.tencentcloudapi.com, API 2021-01-11).
TENCENT_SMS_SECRET_ID = env("TENCENT_SMS_SECRET_ID", default="")
TENCENT_SMS_SECRET_KEY = env("TENCENT_SMS_SECRET_KEY", default="")
TENCENT_SMS_SECRET_KEY_FILE = env("TENCENT_SMS_SECRET_KEY_FILE", default="")
TENCENT_SMS_SDK_APP_ID = env("TENCENT_SMS_SDK_APP_ID", default="")
TENCENT_SMS_REGION = env("TENCENT_SMS_REGION", default="ap-guangzhou")
TENCENT_SMS_ENDPOINT = env("TENCENT_SMS_ENDPOINT", default="sms.tencentcloudapi.com")
TENCENT_SMS_PROTOCOL = env("TENCENT_SMS_PROTOCOL", default="https")
# Production refuses a backend that reaches no handset (console, file, locmem) unless this is
# on: for a benchmark or rehearsal on production settings, never for a site serving customers.
SMS_TEXT_BACKEND_ALLOWED = env.bool("HEYON_ALLOW_TEXT_SMS_IN_PRODUCTION", default=True)

# Outbound messages are sent right after their transaction commits; dispatch_messages
# retries the ones that failed with exponential backoff up to this many attempts.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_SEND_ON_COMMIT = env.bool("OUTBOX_SEND_ON_COMMIT", default=True)

# One-time codes (registration, SMS login, password reset).
OTP_TTL_MINUTES = 10
OTP_MAX_VERIFY_ATTEMPTS = 5
OTP_RESEND_INTERVAL_SECONDS = 60
OTP_MAX_PER_DESTINATION_PER_HOUR = 5
OTP_MAX_PER_IP_PER_HOUR = 20

# Keyed hashes used to look rows up by a secret (activation codes, later ID numbers)
# without storing the secret itself. Separate from SECRET_KEY so that rotating the
# session signing key does not orphan every stored hash.
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY", default=SECRET_KEY)

# Lockout after repeated failed password logins: per account (the identifier typed) and, with
# a higher limit of its own, per client address, which a carrier NAT shares between many
# customers (accounts/lockout.py counts the address; axes has one limit for every parameter).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
SIGN_IN_ADDRESS_FAILURE_LIMIT = env.int("SIGN_IN_ADDRESS_FAILURE_LIMIT", default=50)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes warns that without "ip_address" above an attacker rotating identifiers is not limited;
# the handler limits the address itself, with SIGN_IN_ADDRESS_FAILURE_LIMIT (tests/security).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_USERNAME_CALLABLE = "accounts.backends.axes_identifier"
# The same client address as the code rate limits (X-Forwarded-For behind trusted proxies).
AXES_CLIENT_IP_CALLABLE = "accounts.http.client_ip"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
# axes' database handler, with the address's limit, and a success forgetting the account's
# failures under each of its identifiers, never its address's (accounts/lockout.py).
AXES_HANDLER = "accounts.lockout.SignInLockoutHandler"
AXES_VERBOSE = False

# Real-name verification.
# Fernet keys, newest first: the first encrypts, all decrypt. Empty = a key derived from
# SECRET_KEY (local and test settings only; production requires real keys).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
REVIEW_SLA_BUSINESS_DAYS = env.int("REVIEW_SLA_BUSINESS_DAYS", default=3)
REVIEW_CLAIM_MINUTES = env.int("REVIEW_CLAIM_MINUTES", default=15)
# Quality control: the share (0 to 1) of reviewers' decisions drawn for a senior's second look.
QC_SAMPLE_SHARE = env.float("QC_SAMPLE_SHARE", default=0.05)
# Four eyes: a final rejection (other than LINE_LIMIT) waits for a second senior reviewer.
REVIEW_FINAL_REJECTION_FOUR_EYES = env.bool("REVIEW_FINAL_REJECTION_FOUR_EYES", default=False)
MAX_LINES_PER_ID = env.int("MAX_LINES_PER_ID", default=5)
MAX_SUBMISSION_ATTEMPTS = env.int("MAX_SUBMISSION_ATTEMPTS", default=5)
MIN_SELF_REGISTRATION_AGE = env.int("MIN_SELF_REGISTRATION_AGE", default=16)
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_PIXELS = env.int("PHOTO_MAX_PIXELS", default=50_000_000)
PHOTO_MIN_SIDE = 300
# Memory one photo's decoded image may take (pixels × bytes per pixel, 16-bit samples
# counted twice): a 24 MP HEIC fits, a 16-bit 7000×7000 PNG does not. See reviews/photos.py.
PHOTO_MAX_DECODE_BYTES = env.int("PHOTO_MAX_DECODE_BYTES", default=128 * 1024 * 1024)
# A near-duplicate photo: 64-bit difference hashes at most this many bits apart (≤ 3).
PHOTO_DUPLICATE_MAX_DISTANCE = 3

# Machine checks of an online submission (reviews/checks/): OCR of both sides of the ID
# card, face match, age and document expiry, shown to the reviewer as evidence (the
# runner, MACHINE_CHECKS_RUNNER, is set with Celery's settings below).
# Face distance bands (dlib ResNet embeddings, Euclidean): up to SAME_MAX "same person",
# from DIFFERENT_MIN "different people", "unsure" between. dlib's own threshold is 0.6;
# one face rescaled measures about 0.1, different people 0.6-0.9 (docs/DECISIONS.md).
FACE_MATCH_SAME_MAX_DISTANCE = env.float("FACE_MATCH_SAME_MAX_DISTANCE", default=0.5)
FACE_MATCH_DIFFERENT_MIN_DISTANCE = env.float("FACE_MATCH_DIFFERENT_MIN_DISTANCE", default=0.6)
# A run that neither finished nor failed in this long (process killed) is run again, at
# most MACHINE_CHECK_MAX_RUNS times in all.
MACHINE_CHECK_LEASE_SECONDS = env.int("MACHINE_CHECK_LEASE_SECONDS", default=300)
MACHINE_CHECK_MAX_RUNS = env.int("MACHINE_CHECK_MAX_RUNS", default=3)

# Billing. Real providers replace the sandbox by naming their gateway class here.
PAYMENT_GATEWAYS = {
    "sandbox": "billing.gateways.sandbox.SandboxGateway",
    "alipay": "billing.gateways.alipay.AlipayGateway",
    "wechat": "billing.gateways.wechatpay.WeChatPayGateway",
}
# Which gateway takes each method: e.g. PAYMENT_METHOD_GATEWAYS=alipay=alipay,wechat=wechat,card=sandbox
PAYMENT_METHOD_GATEWAYS = env.dict(
    "PAYMENT_METHOD_GATEWAYS", default={"alipay": "sandbox", "wechat": "sandbox", "card": "sandbox"}
)
# The sandbox signs its callbacks with a secret of its own, never SECRET_KEY: empty here (the
# sandbox then signs and believes nothing); the local and test settings use the development
# one, which `check --deploy` refuses (billing/checks.py).
PAYMENT_SANDBOX_SECRET = env("PAYMENT_SANDBOX_SECRET", default="")
PAYMENT_SANDBOX_DEVELOPMENT_SECRET = "development-only-sandbox-signing-secret"  # noqa: S105 - public on purpose
# Whether the sandbox provider may be configured at all; the system checks refuse it otherwise.
PAYMENT_SANDBOX_ALLOWED = False
PAYMENT_NOTIFICATION_MAX_AGE_SECONDS = 300
# An attempt still "created" this long after it began is no longer inside its provider call
# (the gateways' own timeouts are far shorter): the settle job asks the provider about it.
PAYMENT_SETTLE_AFTER_SECONDS = env.int("PAYMENT_SETTLE_AFTER_SECONDS", default=60)
ORDER_PAY_WITHIN_MINUTES = env.int("ORDER_PAY_WITHIN_MINUTES", default=30)
# A wallet balance goes back through the provider of a top-up made within this many days
# (both providers refund for a year); older money is paid out by finance.
REFUND_WITHIN_DAYS = env.int("REFUND_WITHIN_DAYS", default=360)
# The site's public address, for the return and callback URLs sent to a provider.
PAYMENT_CALLBACK_BASE_URL = env("PAYMENT_CALLBACK_BASE_URL", default="")
# Real providers (docs/DEPLOY.md "Payments"). Secrets come from the environment or from files
# it names (*_FILE): keys are PEM files, never settings literals.
ALIPAY_APP_ID = env("ALIPAY_APP_ID", default="")
ALIPAY_APP_PRIVATE_KEY_FILE = env("ALIPAY_APP_PRIVATE_KEY_FILE", default="")
ALIPAY_PUBLIC_KEY_FILE = env("ALIPAY_PUBLIC_KEY_FILE", default="")
ALIPAY_GATEWAY_URL = env("ALIPAY_GATEWAY_URL", default="https://openapi.alipay.com/gateway.do")
ALIPAY_TIMEOUT_SECONDS = env.int("ALIPAY_TIMEOUT_SECONDS", default=10)
WECHATPAY_MCH_ID = env("WECHATPAY_MCH_ID", default="")
WECHATPAY_APP_ID = env("WECHATPAY_APP_ID", default="")
WECHATPAY_PRIVATE_KEY_FILE = env("WECHATPAY_PRIVATE_KEY_FILE", default="")
WECHATPAY_CERT_SERIAL_NO = env("WECHATPAY_CERT_SERIAL_NO", default="")
WECHATPAY_APIV3_KEY = env("WECHATPAY_APIV3_KEY", default="")
WECHATPAY_APIV3_KEY_FILE = env("WECHATPAY_APIV3_KEY_FILE", default="")
# Where the platform certificates are kept (downloaded and refreshed by the SDK).
WECHATPAY_PLATFORM_CERT_DIR = env("WECHATPAY_PLATFORM_CERT_DIR", default="")
WECHATPAY_API_BASE_URL = env("WECHATPAY_API_BASE_URL", default="https://api.mch.weixin.qq.com")
WECHATPAY_TIMEOUT_SECONDS = env.int("WECHATPAY_TIMEOUT_SECONDS", default=10)
RENEWAL_TERMS_MONTHS = (1, 3, 6, 12)
AUTORENEW_WINDOW_DAYS = env.int("AUTORENEW_WINDOW_DAYS", default=3)
LINE_EXPIRY_GRACE_DAYS = env.int("LINE_EXPIRY_GRACE_DAYS", default=15)
EXPIRY_WARNING_DAYS = (7, 1)
TOP_UP_MAX = 5000
# The plan (code) a new line runs on from activation when its supplier's import names none.
DEFAULT_LINE_PLAN = env("DEFAULT_LINE_PLAN", default="basic")

# Cancellation and personal data.
NUMBER_QUARANTINE_DAYS = env.int("NUMBER_QUARANTINE_DAYS", default=90)
PERSONAL_DATA_RETENTION_DAYS = env.int("PERSONAL_DATA_RETENTION_DAYS", default=730)

# Printable documents (certificates, receipts): a TrueType font with Chinese glyphs.
PDF_CJK_FONT = env("PDF_CJK_FONT", default="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# Public certificate check: attempts per IP per minute.
CERTIFICATE_VERIFY_RATE_PER_MINUTE = env.int("CERTIFICATE_VERIFY_RATE_PER_MINUTE", default=10)
PHOTO_PRECHECK_RATE_PER_MINUTE = env.int("PHOTO_PRECHECK_RATE_PER_MINUTE", default=30)
# Posted verification submissions, per customer and per client address, per minute. The
# address limit is higher: many customers share one carrier NAT address.
SUBMISSION_RATE_PER_MINUTE = env.int("SUBMISSION_RATE_PER_MINUTE", default=5)
SUBMISSION_RATE_PER_ADDRESS_PER_MINUTE = env.int("SUBMISSION_RATE_PER_ADDRESS_PER_MINUTE", default=30)
# Photos kept for a verification form not submitted yet are erased after this many hours.
SUBMISSION_DRAFT_HOURS = env.int("SUBMISSION_DRAFT_HOURS", default=24)
PHOTO_PRECHECK_RATE_PER_ADDRESS_PER_MINUTE = env.int("PHOTO_PRECHECK_RATE_PER_ADDRESS_PER_MINUTE", default=120)

HEYON_REQUIRE_STAFF_2FA = env.bool("HEYON_REQUIRE_STAFF_2FA", default=False)
OTP_TOTP_ISSUER = "Heyon"
STAFF_RECOVERY_CODE_COUNT = 10
SUPPORT_HOTLINE = env("SUPPORT_HOTLINE", default="400-820-0000")
SUPPORT_HOURS = env("SUPPORT_HOURS", default="09:00–21:00")

# Redis, when REDIS_URL is set: the cache (and so the cache-backed rate limits) is shared by
# every app server, and it is the default Celery broker. Short socket timeouts: a Redis
# outage must fail a request quickly rather than hang a worker thread. django-redis rather
# than Django's own Redis backend: Django's builds a new client object (about 0.13 ms of
# CPU here) for every cache call, two to four on each signed-in page; django-redis keeps one
# per process.
REDIS_URL = env("REDIS_URL", default="")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT, "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT},
        }
    }
    # Sessions are read from Redis and written through to the database: a signed-in page
    # costs no session query, a Redis restart signs nobody out, and while Redis does not
    # answer the database serves them (heyon_site/sessions.py).
    SESSION_ENGINE = "heyon_site.sessions"

# The account centre is cached per customer under a digest of what it shows
# (accounts.selectors.account_centre_state), so a change shows at once; the lifetime only
# bounds how long a page lingers after an admin edits a plan's name or a deploy changes
# the translations.
ACCOUNT_CENTRE_CACHE_SECONDS = env.int("ACCOUNT_CENTRE_CACHE_SECONDS", default=300)

# Usage records (billing.services.usage_partitions): on PostgreSQL a month's records are
# dropped whole once all of them are this old (MIIT Order 25: two years after the record);
# the daily totals, which say how much and not when or with whom, are kept longer
# (0 = for ever). Partitions are made this many months ahead by the scheduled task.
USAGE_RETENTION_MONTHS = env.int("USAGE_RETENTION_MONTHS", default=24)
USAGE_ROLLUP_RETENTION_MONTHS = env.int("USAGE_ROLLUP_RETENTION_MONTHS", default=60)
USAGE_PARTITIONS_AHEAD_MONTHS = env.int("USAGE_PARTITIONS_AHEAD_MONTHS", default=3)
# Where billing.tasks.import_usage_file reads the network's files (a STORAGES alias).
USAGE_IMPORT_STORAGE = env("USAGE_IMPORT_STORAGE", default="private")

# Background work on Celery. No broker (the embedded default) = no Celery at all: messages
# are sent in-process after commit and the schedule below is run by the management
# commands (cron). With a broker, a worker sends messages and beat runs the schedule;
# every task calls the same service as its command, and each is safe to run on several
# machines at once (rows are claimed with conditional updates or SKIP LOCKED).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
# Hand messages to the worker on commit instead of sending them in the web process.
OUTBOX_SEND_VIA_QUEUE = env.bool("OUTBOX_SEND_VIA_QUEUE", default=bool(CELERY_BROKER_URL))
# Machine checks run after the submission commits, off the request: "thread" = a
# background thread of the web process (the embedded default), "celery" = a worker task
# (the default with a broker), "command" = only `run_machine_checks` (cron). Whatever the
# runner, that command (beat sends it every 5 minutes) runs what a restart left pending.
MACHINE_CHECKS_RUNNER = env("MACHINE_CHECKS_RUNNER", default="celery" if CELERY_BROKER_URL else "thread")
# ...one send task waiting at a time, marked in the shared cache (Redis) for at most this
# long, rather than one task per commit (accounts.tasks.send_messages_queue).
# 0 = a task per commit, as wherever the cache is not shared by web processes and workers.
OUTBOX_SEND_TASK_QUEUED_SECONDS = env.int("OUTBOX_SEND_TASK_QUEUED_SECONDS", default=30 if REDIS_URL else 0)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A task is acknowledged after it ran, so a worker killed mid-task leaves it for another
# worker; the tasks are idempotent, so running one twice is harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "visibility_timeout": 3600,
}
# Enqueueing happens after the customer's transaction committed: give up quickly when
# the broker is down (the outbox row stays pending for dispatch_messages).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TIMEZONE = TIME_ZONE
# What beat sends, and when. A run that is not picked up before the next one is due
# expires instead of piling up behind a stopped worker.
CELERY_BEAT_SCHEDULE = {
    "dispatch-messages": {"task": "accounts.tasks.dispatch_messages", "schedule": 60.0, "options": {"expires": 55}},
    "poll-sms-receipts": {"task": "accounts.tasks.poll_sms_receipts", "schedule": 300.0, "options": {"expires": 290}},
    "run-autorenew": {"task": "billing.tasks.run_autorenew", "schedule": 3600.0, "options": {"expires": 3300}},
    "expire-lines": {"task": "billing.tasks.expire_lines", "schedule": 3600.0, "options": {"expires": 3300}},
    # Payments whose outcome is not recorded (timeouts, a worker killed mid-payment): their
    # orders can neither be paid again nor close until this asks the provider.
    "settle-payments": {"task": "billing.tasks.settle_payments", "schedule": 300.0, "options": {"expires": 280}},
    # Yesterday's statements, once the providers have published them (Alipay and WeChat Pay after 09:00/10:00).
    "reconcile-payments": {
        "task": "billing.tasks.reconcile_payments",
        "schedule": crontab(hour=11, minute=0),
        "options": {"expires": 3600},
    },
    "release-expired-claims": {
        "task": "reviews.tasks.release_expired_claims",
        "schedule": 300.0,
        "options": {"expires": 280},
    },
    "purge-submission-drafts": {
        "task": "reviews.tasks.purge_submission_drafts",
        "schedule": 3600.0,
        "options": {"expires": 3300},
    },
    "purge-personal-data": {
        "task": "customers.tasks.purge_personal_data",
        "schedule": 86400.0,
        "options": {"expires": 82800},
    },
    # Machine checks no thread or task ran (a restart, a lost task).
    "run-machine-checks": {"task": "reviews.tasks.run_machine_checks", "schedule": 300.0, "options": {"expires": 280}},
    # The app API's Idempotency-Key records older than a day, and expired refresh tokens.
    "purge-api-records": {"task": "api.tasks.purge_api_records", "schedule": 3600.0, "options": {"expires": 3300}},
    # The usage tables' months ahead, and the months past retention dropped (PostgreSQL).
    "maintain-usage-partitions": {
        "task": "billing.tasks.maintain_usage_partitions",
        "schedule": 86400.0,
        "options": {"expires": 82800},
    },
    # More often than the dashboard's cache expires (reviews.selectors.DASHBOARD_CACHE_SECONDS).
    "refresh-dashboard": {"task": "reviews.tasks.refresh_dashboard", "schedule": 300.0, "options": {"expires": 280}},
}

# --- The official app's JSON API (/api/v1/, the api app) ------------------------------
# Django REST framework with JWTs for the app; sessions stay for the web. Errors are RFC 9457
# problem details (api.problems), lists page by cursor, and the rate limits are the web's own
# (api.limits calls accounts.http.over_rate_limit with the web's groups and settings).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsCustomer"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ProblemAwareAutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("API_ACCESS_TOKEN_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("API_REFRESH_TOKEN_DAYS", default=30)),
    # Every refresh hands out a new refresh token and blacklists the old one (api.tokens
    # does it under a row lock, so one refresh token is spent once).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry a digest of the password hash: a changed password ends every token at once.
    "CHECK_REVOKE_TOKEN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_AUTHENTICATION_RULE": "api.tokens.may_hold_token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Heyon app API",
    "DESCRIPTION": "The official app's JSON API: the customer journeys of the web, over the same services.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LineStatusEnum": "accounts.models.Line.Status",
        "ServicePointKindEnum": "accounts.models.ServicePoint.Kind",
        "OrderStatusEnum": "billing.models.Order.Status",
        "OrderKindEnum": "billing.models.Order.Kind",
        "PaymentStatusEnum": "billing.models.Payment.Status",
        "PaymentMethodEnum": "billing.models.Payment.Method",
        "PayMethodEnum": "api.serializers.PAY_METHODS",
        "AutoRenewMethodEnum": "billing.models.LineService.AutoRenewMethod",
        "SubmissionStatusEnum": "reviews.models.Submission.Status",
        "PhotoKindEnum": "reviews.models.SubmissionPhoto.Kind",
        "CancellationStatusEnum": "customers.models.CancellationRequest.Status",
        "SupportThreadStatusEnum": "customers.models.SupportThread.Status",
    },
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # drf-spectacular's own enum hook first, then the customer journeys' OpenAPI links.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_journey_links"],
}
# Idempotency-Key records are kept this long (as payment APIs do); a request still running
# after API_IDEMPOTENCY_STALE_SECONDS (a crashed process) no longer holds its key.
API_IDEMPOTENCY_KEY_HOURS = env.int("API_IDEMPOTENCY_KEY_HOURS", default=24)
API_IDEMPOTENCY_STALE_SECONDS = env.int("API_IDEMPOTENCY_STALE_SECONDS", default=120)
# Every API request, per token and per client address, per minute (the web's specific
# limits apply on top: codes, lockouts, photo checks, submissions, certificate checks).
API_RATE_PER_TOKEN_PER_MINUTE = env.int("API_RATE_PER_TOKEN_PER_MINUTE", default=120)
API_RATE_PER_ADDRESS_PER_MINUTE = env.int("API_RATE_PER_ADDRESS_PER_MINUTE", default=600)
# --- end of the API block -------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content Security Policy (django-csp 4): scripts and styles only from our own static
# files, no inline script, no inline style attribute. Images may also be data: URIs (the
# TOTP QR code, Bootstrap's SVG icons) and blob: URLs (the photo preview before upload).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# LOG_FORMAT=json (the production default) writes one JSON object per line with the
# request id, for a log collector; "text" is for people reading a console.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "heyon_site.observability.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
