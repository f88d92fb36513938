"""Account security fixtures: the console's client and AuthActions, TOTP codes, a second browser, the outbox."""
from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.console.conftest import BrowserClient, auth, client, join, owner  # noqa: F401  (fixtures)

LINK_RE = re.compile(r"http://127\.0\.0\.1:8000(/\S+)")


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    """A code for now (or the next step: the one just used to turn two-factor on cannot be used again)."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + steps_ahead * totp.interval)


def last_link(kind: str) -> str:
    """The path of the link in the newest outbox message of that kind."""
    from ethergate.extensions import db
    from ethergate.mail.models import OutboxMessage
    body = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id.desc())).first().body
    return LINK_RE.search(body).group(1)


@pytest.fixture
def second_browser(app):
    """Another browser (its own cookies) on the same app."""
    app.test_client_class = BrowserClient
    return app.test_client()


@pytest.fixture
def enable_two_factor(client):
    """enable_two_factor() -> secret: turns two-factor on for the signed-in user through the setup page."""
    def enable() -> str:
        page = client.get("/account/two-factor").get_data(as_text=True)
        secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
        response = client.submit("/account/two-factor", {"code": totp_code(secret)}, page="/account/two-factor")
        assert response.status_code == 200 and "Save your recovery codes" in response.get_data(as_text=True)
        enable.codes = re.search(r"<pre id=\"recovery-codes\">([^<]*)</pre>", response.get_data(as_text=True)).group(1).split()
        return secret
    return enable
