"""EtherGate: an OpenAI-compatible gateway for DeepSeek, Qwen and Moonshot, with a developer console."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from .settings import ConfigError, load_settings
from .application import EtherGateFlask

__version__ = "0.1.0"
ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Application factory. `config` overrides what the environment says (tests use it)."""
    app = EtherGateFlask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    # A doubled slash is a 404 where it matches nothing, never a redirect: /v1 answers only in JSON.
    app.url_map.merge_slashes = False
    app.config.update(load_settings(os.environ, app.instance_path))
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        raise ConfigError("ETHERGATE_SECRET_KEY: required (make run generates one into instance/secret_key)")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(app.config["SQLALCHEMY_DATABASE_URI"],
                                                                       app.config["DATABASE_POOL_SIZE"]))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.config["VERSION"] = __version__
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = app.config["TRUSTED_PROXIES"]
        # Client IPs drive sign-in throttling and /metrics access; trust only as many hops as deployed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from . import models  # noqa: F401  (register every table)
    from .database import configure_sqlite, watch_connections
    from .extensions import db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    from .accounts import throttle
    throttle.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
        if app.config["CHECK_TRANSACTIONS"] or app.testing:
            app.config["CHECK_TRANSACTIONS"] = True
            watch_connections(db.engine)

    from . import cli, errors, health
    from .gateway import bp as gateway_bp
    # Routes and hooks on the /v1 blueprint.
    from .gateway import chat, lifecycle, messages, models_api, receipts, responses_api  # noqa: F401
    from .gateway import status, stripe_webhook

    app.register_blueprint(health.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(gateway_bp)
    app.register_blueprint(stripe_webhook.bp)
    errors.register(app)
    cli.register(app)
    from . import observability
    observability.init_app(app)  # request IDs, access line, /metrics; before the console's hooks

    # Console: languages, pages, then security last (it exempts registered blueprints from CSRF by name).
    from . import console, i18n, mail, security
    i18n.init_app(app)
    mail.init_app(app)
    console.init_app(app)
    from . import support
    support.init_app(app)  # staff only; hides /support from everyone else before CSRF can answer
    from . import docs, status_page
    app.register_blueprint(docs.bp)
    app.register_blueprint(status_page.bp)
    security.init_app(app)
    return app


def _engine_options(url: str, pool_size: int) -> dict:
    if url.startswith("sqlite"):
        # Last in, first out: a connection whose page cache another connection's commit made stale starts
        # its next transaction by dropping that cache. Reusing the last connection keeps it warm (measured:
        # a hold and its capture 290 us of CPU instead of 410-460 us, rotating through the pool).
        from .database import is_sqlite_file
        options = {"connect_args": {"timeout": 30}}
        if is_sqlite_file(url):  # a memory database has one connection
            options["pool_use_lifo"] = True
        return options
    # No overflow: a gevent worker runs dozens of requests at once, and overflow connections are closed as
    # soon as they are returned, so every burst made PostgreSQL fork new backends (measured: ~10% of
    # throughput at c32). Connections open on demand and then stay; past the size, a request waits for one.
    return {"pool_size": pool_size, "max_overflow": 0, "pool_pre_ping": True, "pool_recycle": 1800}
