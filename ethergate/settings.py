"""Configuration read from ETHERGATE_* environment variables, validated once at start."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

PROVIDERS = ("deepseek", "qwen", "moonshot")


class ConfigError(ValueError):
    """A bad configuration value; the message is one line naming the variable."""


def parse_boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def parse_int(name: str, raw: str, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{name}: must be {bound}, got {value}")
    return value


def parse_seconds(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name}: must be greater than 0, got {raw!r}")
    return value


def parse_number(name: str, raw: str, minimum: float, maximum: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}: must be between {minimum:g} and {maximum:g}, got {raw!r}")
    return value


def parse_http_url(name: str, raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}: expected an http(s) URL, got {raw!r}")
    return url


def parse_public_base_url(name: str, raw: str) -> str:
    """The site's root URL; a trailing /v1 (the API base URL, which operators copy) is dropped, once."""
    url = parse_http_url(name, raw)
    if url.lower().endswith("/v1"):
        url = parse_http_url(name, url[:-3])
    return url


def public_base_url_for(host: str, port: int) -> str:
    """The URL a server bound to host:port is reached at from this machine."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse_database_url(name: str, raw: str) -> str:
    url = raw.strip()
    scheme = url.split(":", 1)[0]
    if scheme in ("postgres", "postgresql"):
        # psycopg 3 cooperates with gevent; make it the driver whatever the operator wrote.
        return "postgresql+psycopg:" + url.split(":", 1)[1]
    if scheme in ("postgresql+psycopg", "sqlite"):
        return url
    raise ConfigError(f"{name}: expected a sqlite:/// or postgresql:// URL, got scheme {scheme!r}")


def parse_currency(name: str, raw: str) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ConfigError(f"{name}: expected a three-letter ISO 4217 code such as CNY, got {raw!r}")
    return code


def parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
    return value


def parse_thresholds(name: str, raw: str) -> dict[str, float]:
    """"0.95" or "0.95,qwen=0.9": success-rate floors, a bare number for every provider (key "*")."""
    floors = {"*": 0.95}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        provider, _, value = item.rpartition("=")
        provider = provider.strip() or "*"
        if provider != "*" and provider not in PROVIDERS:
            raise ConfigError(f"{name}: unknown provider {provider!r} (expected one of {', '.join(PROVIDERS)})")
        try:
            floor = float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a success rate such as 0.95, got {value!r}") from None
        if not 0 < floor <= 1:
            raise ConfigError(f"{name}: a success rate must be above 0 and at most 1, got {value!r}")
        floors[provider] = floor
    return floors


def load_settings(environ: os._Environ | dict, instance_path: str) -> dict:
    """Flask config keys from the environment. Raises ConfigError on the first bad value."""
    env = environ
    cfg: dict = {}

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value not in (None, "") else None

    default_db = "sqlite:///" + str(Path(instance_path) / "ethergate.sqlite3")
    cfg["SQLALCHEMY_DATABASE_URI"] = parse_database_url(
        "ETHERGATE_DATABASE_URL", get("ETHERGATE_DATABASE_URL") or default_db)
    secret = get("ETHERGATE_SECRET_KEY")
    if secret is not None and len(secret) < 32:
        raise ConfigError("ETHERGATE_SECRET_KEY: must be at least 32 characters")
    cfg["SECRET_KEY"] = secret
    redis_url = get("ETHERGATE_REDIS_URL")
    if redis_url is not None and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"ETHERGATE_REDIS_URL: expected a redis:// URL, got {redis_url!r}")
    cfg["REDIS_URL"] = redis_url
    catalog = get("ETHERGATE_CATALOG_PATH")
    if catalog is not None and not Path(catalog).is_file():
        raise ConfigError(f"ETHERGATE_CATALOG_PATH: no such file {catalog!r}")
    cfg["CATALOG_PATH"] = catalog
    provider_keys, provider_urls = {}, {}
    for provider in PROVIDERS:
        upper = provider.upper()
        provider_keys[provider] = get(f"ETHERGATE_{upper}_API_KEY")
        base = get(f"ETHERGATE_{upper}_BASE_URL")
        provider_urls[provider] = parse_http_url(f"ETHERGATE_{upper}_BASE_URL", base) if base else None
    cfg["PROVIDER_KEYS"] = provider_keys
    cfg["PROVIDER_BASE_URLS"] = provider_urls
    public = get("ETHERGATE_PUBLIC_BASE_URL")
    # Unset, the server replaces it with the address it binds (wsgi.py, gunicorn.conf.py) once it listens.
    cfg["PUBLIC_BASE_URL_FROM_BIND"] = public is None
    cfg["PUBLIC_BASE_URL"] = parse_public_base_url("ETHERGATE_PUBLIC_BASE_URL", public or "http://127.0.0.1:8000")
    cfg["CURRENCY"] = parse_currency("ETHERGATE_CURRENCY", get("ETHERGATE_CURRENCY") or "CNY")
    cfg["MAX_BODY_BYTES"] = parse_int(
        "ETHERGATE_MAX_BODY_BYTES", get("ETHERGATE_MAX_BODY_BYTES") or str(16 * 1024 * 1024), minimum=1024)
    cfg["CONNECT_TIMEOUT"] = parse_seconds("ETHERGATE_CONNECT_TIMEOUT", get("ETHERGATE_CONNECT_TIMEOUT") or "5")
    cfg["FIRST_BYTE_TIMEOUT"] = parse_seconds(
        "ETHERGATE_FIRST_BYTE_TIMEOUT", get("ETHERGATE_FIRST_BYTE_TIMEOUT") or "60")
    cfg["IDLE_TIMEOUT"] = parse_seconds("ETHERGATE_IDLE_TIMEOUT", get("ETHERGATE_IDLE_TIMEOUT") or "60")
    cfg["COMPLETE_TIMEOUT"] = parse_seconds(
        "ETHERGATE_COMPLETE_TIMEOUT", get("ETHERGATE_COMPLETE_TIMEOUT") or "600")
    cfg["HOLD_TTL_SECONDS"] = parse_int(
        "ETHERGATE_HOLD_TTL_SECONDS", get("ETHERGATE_HOLD_TTL_SECONDS") or "900", minimum=5)
    # SQLite: requests' holds and captures ready in the same turn of the event loop share one COMMIT.
    cfg["GROUP_COMMIT"] = parse_boolean("ETHERGATE_GROUP_COMMIT", get("ETHERGATE_GROUP_COMMIT") or "true")
    cfg["SWEEP_INTERVAL_SECONDS"] = parse_seconds(
        "ETHERGATE_SWEEP_INTERVAL_SECONDS", get("ETHERGATE_SWEEP_INTERVAL_SECONDS") or "30")
    cfg["WEBHOOK_ALLOW_PRIVATE"] = parse_boolean(
        "ETHERGATE_WEBHOOK_ALLOW_PRIVATE", get("ETHERGATE_WEBHOOK_ALLOW_PRIVATE") or "false")
    cfg["WEBHOOK_TIMEOUT"] = parse_seconds(
        "ETHERGATE_WEBHOOK_TIMEOUT", get("ETHERGATE_WEBHOOK_TIMEOUT") or "10")
    cfg["DEFAULT_RPM"] = parse_int("ETHERGATE_DEFAULT_RPM", get("ETHERGATE_DEFAULT_RPM") or "60", minimum=1)
    cfg["RATE_LIMIT_FAILURE_MODE"] = parse_choice(
        "ETHERGATE_RATE_LIMIT_FAILURE_MODE", get("ETHERGATE_RATE_LIMIT_FAILURE_MODE") or "open", ("open", "closed"))
    cfg["RATE_LIMIT_LEASE_SECONDS"] = parse_number(
        "ETHERGATE_RATE_LIMIT_LEASE_SECONDS", get("ETHERGATE_RATE_LIMIT_LEASE_SECONDS") or "1", 0.05, 10)
    cfg["RATE_LIMIT_LEASE_PERCENT"] = parse_number(
        "ETHERGATE_RATE_LIMIT_LEASE_PERCENT", get("ETHERGATE_RATE_LIMIT_LEASE_PERCENT") or "2", 0, 10)
    cfg["KEY_CACHE_SECONDS"] = parse_seconds(
        "ETHERGATE_KEY_CACHE_SECONDS", get("ETHERGATE_KEY_CACHE_SECONDS") or "2")
    cfg["SHUTDOWN_GRACE_SECONDS"] = parse_seconds(
        "ETHERGATE_SHUTDOWN_GRACE_SECONDS", get("ETHERGATE_SHUTDOWN_GRACE_SECONDS") or "30")
    cfg["LOG_LEVEL"] = parse_choice(
        "ETHERGATE_LOG_LEVEL", get("ETHERGATE_LOG_LEVEL") or "info", ("debug", "info", "warning", "error"))
    cfg["METRICS_TOKEN"] = get("ETHERGATE_METRICS_TOKEN")
    cfg["STATUS_DEGRADED_BELOW"] = parse_thresholds(
        "ETHERGATE_STATUS_DEGRADED_BELOW", get("ETHERGATE_STATUS_DEGRADED_BELOW") or "0.95")
    cfg["STATUS_WINDOW_MINUTES"] = parse_int(
        "ETHERGATE_STATUS_WINDOW_MINUTES", get("ETHERGATE_STATUS_WINDOW_MINUTES") or "60", minimum=5, maximum=1440)
    cfg["STATUS_MIN_REQUESTS"] = parse_int(
        "ETHERGATE_STATUS_MIN_REQUESTS", get("ETHERGATE_STATUS_MIN_REQUESTS") or "20", minimum=1)
    cfg["DATABASE_POOL_SIZE"] = parse_int(
        "ETHERGATE_DATABASE_POOL_SIZE", get("ETHERGATE_DATABASE_POOL_SIZE") or "60", minimum=1, maximum=1000)
    cfg["TRUSTED_PROXIES"] = parse_int(
        "ETHERGATE_TRUSTED_PROXIES", get("ETHERGATE_TRUSTED_PROXIES") or "0", minimum=0, maximum=5)
    cfg["STRIPE_SECRET_KEY"] = get("ETHERGATE_STRIPE_SECRET_KEY")
    cfg["STRIPE_WEBHOOK_SECRET"] = get("ETHERGATE_STRIPE_WEBHOOK_SECRET")
    stripe_base = get("ETHERGATE_STRIPE_API_BASE")
    cfg["STRIPE_API_BASE"] = parse_http_url("ETHERGATE_STRIPE_API_BASE", stripe_base) if stripe_base else None
    # What the Credits page tells customers about getting credits, e.g. whom to ask for a code or an invoice.
    cfg["CREDITS_CONTACT"] = (get("ETHERGATE_CREDITS_CONTACT") or "").strip()[:1000] or None
    # Tests turn this on: a /v1 stream that starts inside a SQLite transaction then fails loudly.
    cfg["CHECK_TRANSACTIONS"] = parse_boolean(
        "ETHERGATE_CHECK_TRANSACTIONS", get("ETHERGATE_CHECK_TRANSACTIONS") or "false")
    cfg["SESSION_COOKIE_SECURE"] = cfg["PUBLIC_BASE_URL"].startswith("https://")
    cfg.update(load_smtp_settings(get))
    return cfg


SMTP_SECURITY = ("starttls", "tls", "none")
SMTP_DEFAULT_PORTS = {"starttls": "587", "tls": "465", "none": "25"}


def parse_sender(name: str, raw: str) -> str:
    """An address, optionally with a display name: `ops@example.com` or `EtherGate <ops@example.com>`."""
    from email.utils import parseaddr
    display, address = parseaddr(raw.strip())
    if "@" not in address or " " in address or address.startswith("@") or address.endswith("@"):
        raise ConfigError(f"{name}: expected an email address such as EtherGate <noreply@example.com>, got {raw!r}")
    return f"{display} <{address}>" if display else address


def load_smtp_settings(get) -> dict:
    """ETHERGATE_SMTP_*: all unset means no email is sent (messages go to the log and the staff outbox)."""
    names = ("HOST", "PORT", "SECURITY", "USERNAME", "PASSWORD", "FROM", "TIMEOUT")
    given = {n: get(f"ETHERGATE_SMTP_{n}") for n in names}
    if given["HOST"] is None:
        stray = [f"ETHERGATE_SMTP_{n}" for n in names if given[n] is not None]
        if stray:
            raise ConfigError(f"ETHERGATE_SMTP_HOST: required when {', '.join(stray)} is set")
        return {"SMTP_HOST": None}
    security = parse_choice("ETHERGATE_SMTP_SECURITY", given["SECURITY"] or "starttls", SMTP_SECURITY)
    if given["FROM"] is None:
        raise ConfigError("ETHERGATE_SMTP_FROM: required when ETHERGATE_SMTP_HOST is set")
    if (given["USERNAME"] is None) != (given["PASSWORD"] is None):
        raise ConfigError("ETHERGATE_SMTP_USERNAME and ETHERGATE_SMTP_PASSWORD: set both or neither")
    return {
        "SMTP_HOST": given["HOST"].strip(),
        "SMTP_PORT": parse_int("ETHERGATE_SMTP_PORT", given["PORT"] or SMTP_DEFAULT_PORTS[security],
                               minimum=1, maximum=65535),
        "SMTP_SECURITY": security,
        "SMTP_USERNAME": given["USERNAME"],
        "SMTP_PASSWORD": given["PASSWORD"],
        "SMTP_FROM": parse_sender("ETHERGATE_SMTP_FROM", given["FROM"]),
        "SMTP_TIMEOUT": parse_seconds("ETHERGATE_SMTP_TIMEOUT", given["TIMEOUT"] or "10"),
    }
