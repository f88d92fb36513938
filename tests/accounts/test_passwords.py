"""Passwords: production hashes with scrypt; only an app created with TESTING takes the one-round shortcut."""
from ethergate import create_app
from ethergate.accounts.models import User
from ethergate.accounts.passwords import STRONG_METHOD, TESTING_METHOD
from tests.conftest import TEST_SECRET


def test_production_hashes_with_scrypt():
    app = create_app({"SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert not app.config["TESTING"]
    with app.app_context():
        user = User(email="ops@example.com")
        user.set_password("correct horse battery")
    assert STRONG_METHOD == "scrypt"
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("correct horse battery") and not user.check_password("wrong")


def test_testing_hash_is_cheap_and_still_checks(app):
    user = User(email="dev@example.com")
    user.set_password("correct horse battery")
    assert user.password_hash.startswith(TESTING_METHOD + "$")
    assert user.check_password("correct horse battery") and not user.check_password("wrong")
