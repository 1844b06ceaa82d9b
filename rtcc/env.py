"""Every setting rtcc reads from the environment, parsed and checked in one place.

Unset means the embedded default. A value that cannot be used stops the start with a
message naming the variable (ImproperlyConfigured), never a silent fallback.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from django.core.exceptions import ImproperlyConfigured

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off"}


def _get(environ: dict, name: str) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def parse_bool(environ: dict, name: str, default: bool) -> bool:
    value = _get(environ, name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false")


# No count or length of time a setting names is larger: one past it is a typo, and a time that far
# ahead is past the calendar's end (a live session's end, a retention) and would fail mid-request.
LARGEST = 10**9  # whole numbers (a billion: about 31 years in seconds)
LONGEST = timedelta(days=36_525)  # durations: a century


def parse_int(environ: dict, name: str, default: int, *, minimum: int = 0, maximum: int = LARGEST) -> int:
    value = _get(environ, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
    if number > maximum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at most {maximum}")
    return number


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(
    environ: dict, name: str, default: timedelta, *, minimum: timedelta = timedelta(seconds=1)
) -> timedelta:
    """A duration such as `90s`, `3m`, `48h`, `30d` (a bare number is seconds)."""
    value = _get(environ, name)
    if value is None:
        return default
    match = re.fullmatch(r"(\d+)\s*([smhd]?)", value.lower())
    if match is None:
        raise ImproperlyConfigured(f"{name}={value!r} is not a duration: use e.g. 90s, 3m, 48h or 30d")
    seconds = int(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]
    if seconds > LONGEST.total_seconds():
        raise ImproperlyConfigured(f"{name}={value!r} must be at most {LONGEST.days}d")
    duration = timedelta(seconds=seconds)
    if duration < minimum:
        least = int(minimum.total_seconds())
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {least} second{'' if least == 1 else 's'}")
    return duration


# SQLite, embedded or named by DATABASE_URL: IMMEDIATE transactions and a long timeout, so
# several threads of one process write safely instead of failing with "database is locked".
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def parse_database_url(environ: dict, data_dir: Path) -> dict[str, Any]:
    pool_size = parse_int(environ, "RTCC_DB_POOL_SIZE", 20)  # checked whatever the database
    value = _get(environ, "DATABASE_URL")
    if value is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "db.sqlite3"),
            "OPTIONS": dict(SQLITE_OPTIONS),
            "TEST": {"NAME": str(data_dir / "test.sqlite3")},
        }
    import dj_database_url

    parsed = urlparse(value)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL has scheme {parsed.scheme or '(none)'!r}: use postgres://user@host:port/name"
        )
    try:
        config: dict[str, Any] = {**dj_database_url.parse(value, conn_max_age=0, conn_health_checks=True)}
    except Exception as exc:  # dj_database_url raises plain ValueError/KeyError
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if config["ENGINE"] == "django.db.backends.postgresql":
        if not config.get("NAME"):
            raise ImproperlyConfigured("DATABASE_URL names no database: add /dbname at the end")
        try:
            parsed.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ImproperlyConfigured("DATABASE_URL has a port that is not a number from 0 to 65535") from None
        if pool_size:
            # Connecting costs ~10 ms a request under daphne; a pool per process keeps them open.
            # rtcc's backend checks a pooled connection before lending it only when it may be
            # dead, not with a round trip on every checkout (rtcc/postgresql/base.py).
            config["ENGINE"] = "rtcc.postgresql"
            config["OPTIONS"] = {
                **config.get("OPTIONS", {}),
                "pool": {"min_size": 1, "max_size": pool_size, "timeout": 10},
            }
    if config["ENGINE"].endswith("sqlite3"):
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
    return config


def parse_redis_url(environ: dict) -> str | None:
    value = _get(environ, "REDIS_URL")
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in {"redis", "rediss", "unix"} or (parsed.scheme != "unix" and not parsed.hostname):
        raise ImproperlyConfigured(f"REDIS_URL={_without_password(value)!r} is not a redis:// URL")
    try:
        parsed.port  # noqa: B018
    except ValueError:
        raise ImproperlyConfigured("REDIS_URL has a port that is not a number from 0 to 65535") from None
    # The database number: a path that is not one would be ignored by the client (database 0),
    # and this process would not meet the worker and beat on the database they use.
    db = parsed.path.strip("/") if parsed.scheme != "unix" else dict(parse_qsl(parsed.query)).get("db", "0")
    if db and not (db.isdigit() and int(db) <= 100_000):
        raise ImproperlyConfigured(
            f"REDIS_URL={_without_password(value)!r}: the database must be a number, as in redis://host:6379/0"
        )
    return value


def _without_password(url: str) -> str:
    """The URL as a start error may print it: the password (everything between the user name's
    colon and the last @) is ***, as DATABASE_URL's errors never print one. Works on URLs too
    malformed for urlparse to find their parts; with no colon in front of the @ the whole user
    part may be a password, and goes."""
    head, at, host = url.rpartition("@")
    if not at:
        return url
    scheme, slashes, userinfo = head.rpartition("//")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{slashes}{user}:***@{host}" if colon else f"{scheme}{slashes}***@{host}"


def parse_url(environ: dict, name: str) -> str | None:
    value = _get(environ, name)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an http(s) URL")
    return value.rstrip("/")


def _secret_key(environ: dict, *, debug: bool, debug_set: bool, data_dir: Path) -> str:
    value = _get(environ, "DJANGO_SECRET_KEY")
    if value is not None:
        if len(value) < 32 and not debug:
            raise ImproperlyConfigured("DJANGO_SECRET_KEY is too short: use at least 32 random characters")
        return value
    # One random key is kept in the data directory, so sessions and signed links survive restarts
    # and every process sharing that directory agrees on it. DJANGO_DEBUG=false said out loud is
    # its default, unset, and starts the same: with a warning, since processes that share no data
    # directory (one pod each) would each sign with their own key.
    if debug_set and not debug:
        print(
            f"rtcc: DJANGO_SECRET_KEY is not set: using the key kept in {data_dir / 'secret_key'}"
            " (set the variable when processes do not share that directory)",
            file=sys.stderr,
        )
    return _key_file(data_dir / "secret_key", "DJANGO_SECRET_KEY")


def _audit_signing_key(environ: dict, *, data_dir: Path) -> str:
    """The key that signs audit checkpoints: never stored in the database. RTCC_AUDIT_SIGNING_KEY,
    else one random key kept in the data directory (the embedded default; set the variable when
    processes do not share a data directory)."""
    value = _get(environ, "RTCC_AUDIT_SIGNING_KEY")
    if value is not None:
        if len(value) < 32:
            raise ImproperlyConfigured("RTCC_AUDIT_SIGNING_KEY is too short: use at least 32 random characters")
        return value
    return _key_file(data_dir / "audit_signing_key", "RTCC_AUDIT_SIGNING_KEY")


def _key_file(path: Path, variable: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.1)
        raise ImproperlyConfigured(f"{path} is empty: delete it or set {variable}") from None
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@dataclass(frozen=True)
class Env:
    debug: bool
    secret_key: str
    allowed_hosts: list[str]
    data_dir: Path
    database: dict
    redis_url: str | None
    s3_bucket: str | None
    s3_endpoint: str | None
    fcm_credentials: str | None
    fcm_endpoint: str | None
    public_url: str | None
    audit_signing_key: str
    live_max_seconds: int = 900
    live_retention: timedelta = timedelta(hours=1)
    alpr_read_retention: timedelta = timedelta(days=30)
    embedded_beat: bool = True
    trusted_proxies: int = 0

    @property
    def embedded(self) -> bool:
        return self.redis_url is None


def read(environ: dict | None = None) -> Env:
    environ = dict(os.environ if environ is None else environ)
    data_dir = Path(_get(environ, "RTCC_DATA_DIR") or "var").resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise ImproperlyConfigured(f"RTCC_DATA_DIR={str(data_dir)!r} is a file, not a folder")
    debug_set = _get(environ, "DJANGO_DEBUG") is not None
    debug = parse_bool(environ, "DJANGO_DEBUG", default=False)
    database = parse_database_url(environ, data_dir)
    redis_url = parse_redis_url(environ)

    hosts_raw = _get(environ, "DJANGO_ALLOWED_HOSTS")
    if hosts_raw is None:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    else:
        allowed_hosts = [h.strip() for h in hosts_raw.split(",") if h.strip()]
        if not allowed_hosts:
            raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS lists no host")

    bucket = _get(environ, "RTCC_S3_BUCKET")
    if bucket is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ImproperlyConfigured(
            f"RTCC_S3_BUCKET={bucket!r} is not a valid bucket name (3 to 63 lower-case letters, digits, . and -)"
        )

    credentials = _get(environ, "GOOGLE_APPLICATION_CREDENTIALS")
    if credentials is not None:
        _service_account(credentials, project=_get(environ, "GOOGLE_CLOUD_PROJECT"))

    return Env(
        debug=debug,
        secret_key=_secret_key(environ, debug=debug, debug_set=debug_set, data_dir=data_dir),
        allowed_hosts=allowed_hosts,
        data_dir=data_dir,
        database=database,
        redis_url=redis_url,
        s3_bucket=bucket,
        s3_endpoint=parse_url(environ, "AWS_ENDPOINT_URL_S3"),
        fcm_credentials=credentials,
        fcm_endpoint=parse_url(environ, "RTCC_FCM_ENDPOINT"),
        public_url=parse_url(environ, "RTCC_PUBLIC_URL"),
        alpr_read_retention=parse_duration(
            environ, "RTCC_ALPR_READ_RETENTION", timedelta(days=30), minimum=timedelta(minutes=1)
        ),
        live_max_seconds=parse_int(environ, "RTCC_LIVE_MAX_SECONDS", 900, minimum=1),
        live_retention=parse_duration(environ, "RTCC_LIVE_RETENTION", timedelta(hours=1)),
        audit_signing_key=_audit_signing_key(environ, data_dir=data_dir),
        embedded_beat=parse_bool(environ, "RTCC_EMBEDDED_BEAT", default=True),
        trusted_proxies=parse_int(environ, "RTCC_TRUSTED_PROXIES", 0, maximum=10),
    )


def _service_account(path: str, *, project: str | None = None) -> None:
    """GOOGLE_APPLICATION_CREDENTIALS names a service-account key file (JSON) that loads, or the
    start stops: found wrong at the first push, every briefing would wait for a fix. The key is
    loaded as the push client loads it (firebase-admin's Certificate), so a file with the right
    fields and a private_key that is no key stops here, not in the worker's log."""
    try:
        account = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError:
        raise ImproperlyConfigured(f"GOOGLE_APPLICATION_CREDENTIALS={path!r} is not a readable file") from None
    except ValueError:
        raise ImproperlyConfigured(f"GOOGLE_APPLICATION_CREDENTIALS={path!r} is not JSON") from None
    if not isinstance(account, dict) or not {"client_email", "private_key", "token_uri"} <= set(account):
        raise ImproperlyConfigured(
            f"GOOGLE_APPLICATION_CREDENTIALS={path!r} is not a service-account key (client_email, private_key)"
        )
    if account.get("type") != "service_account":
        raise ImproperlyConfigured(
            f"GOOGLE_APPLICATION_CREDENTIALS={path!r} is not a service-account key"
            ' ("type": "service_account" is missing)'
        )
    if not str(account.get("project_id") or "").strip() and not (project or "").strip():
        # FCM's address names the project (/v1/projects/<id>/messages:send): none, no push goes.
        raise ImproperlyConfigured(
            f"GOOGLE_APPLICATION_CREDENTIALS={path!r} names no project_id (nor is GOOGLE_CLOUD_PROJECT set):"
            " FCM needs the Firebase project's id"
        )
    from firebase_admin import credentials

    try:
        credentials.Certificate(account)
    except Exception:  # ValueError and google-auth's own; their text adds nothing a person can act on
        raise ImproperlyConfigured(
            f"GOOGLE_APPLICATION_CREDENTIALS={path!r}: its private_key does not load as a key"
            " (a damaged file? download a new key for the service account)"
        ) from None
