"""Support console fixtures: the console's browser-like client and AuthActions, plus a signed-in staff user."""
from __future__ import annotations

import pytest

from tests.console.conftest import auth, client, join, owner  # noqa: F401  (fixtures)

STAFF_EMAIL = "support@ethergate.example"


def make_staff(email: str = STAFF_EMAIL, password: str = "correct horse battery"):
    from ethergate.accounts.services import create_user
    from ethergate.extensions import db

    user = create_user(email, password, is_staff=True)
    db.session.commit()
    return user


@pytest.fixture
def staff(app, auth):
    """A signed-in staff user (no workspace of their own)."""
    user = make_staff()
    response = auth.login(user.email)
    assert response.status_code == 303, response.get_data(as_text=True)
    return user
