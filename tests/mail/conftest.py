"""Mail fixtures: the app wired to a real SMTP server on loopback, and the console's client on it."""
from __future__ import annotations

import pytest

from tests.console.conftest import auth, client, join, owner  # noqa: F401  (fixtures)
from tests.conftest import app_config
from tests.mail.smtp import MailCatcher


@pytest.fixture
def smtp_server():
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture
def app(database_url, smtp_server):
    """The app with ETHERGATE_SMTP_* pointing at `smtp_server` (overrides the shared `app`)."""
    from ethergate import create_app
    from ethergate.extensions import db

    app = create_app(app_config(database_url, **smtp_server.config))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
