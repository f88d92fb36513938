"""TOTP two-factor: the sign-in step, replay, recovery codes, throttling, and owners requiring it."""
import re

from ethergate.extensions import db
from tests.accounts.conftest import totp_code
from tests.console.conftest import PASSWORD


def sign_in_to_second_step(auth, email):
    response = auth.login(email)
    assert response.status_code == 303 and response.headers["Location"] == "/login/two-factor"


def test_sign_in_needs_a_fresh_code(client, auth, owner, enable_two_factor):
    secret = enable_two_factor()
    auth.logout()
    sign_in_to_second_step(auth, owner.email)
    assert client.get(f"/console/w/{owner.slug}/").status_code == 303  # not signed in yet
    wrong = client.submit("/login/two-factor", {"code": "000000"}, page="/login/two-factor")
    assert wrong.status_code == 422 and "That code is not right" in wrong.get_data(as_text=True)
    code = totp_code(secret, steps_ahead=1)
    assert client.submit("/login/two-factor", {"code": code}, page="/login/two-factor").status_code == 303
    assert client.get(f"/console/w/{owner.slug}/").status_code == 200
    auth.logout()
    sign_in_to_second_step(auth, owner.email)
    replay = client.submit("/login/two-factor", {"code": code}, page="/login/two-factor")
    assert replay.status_code == 422  # the same code never works twice


def test_a_recovery_code_works_once(client, auth, owner, enable_two_factor):
    enable_two_factor()
    codes = enable_two_factor.codes
    assert len(codes) == 10
    auth.logout()
    sign_in_to_second_step(auth, owner.email)
    used = client.submit("/login/two-factor", {"code": codes[0].upper()}, page="/login/two-factor")
    assert used.status_code == 303
    assert "9 recovery codes left" in client.get("/account/").get_data(as_text=True)
    auth.logout()
    sign_in_to_second_step(auth, owner.email)
    assert client.submit("/login/two-factor", {"code": codes[0]}, page="/login/two-factor").status_code == 422
    assert client.submit("/login/two-factor", {"code": codes[1]}, page="/login/two-factor").status_code == 303
    assert "8 recovery codes left" in client.get("/account/").get_data(as_text=True)


def test_wrong_codes_count_as_failed_sign_ins(client, auth, owner, enable_two_factor):
    secret = enable_two_factor()
    auth.logout()
    sign_in_to_second_step(auth, owner.email)
    for _ in range(5):
        assert client.submit("/login/two-factor", {"code": "123456"}, page="/login/two-factor").status_code == 422
    refused = client.submit("/login/two-factor", {"code": totp_code(secret, 1)}, page="/login/two-factor")
    assert refused.status_code == 429 and "Too many failed sign-in attempts" in refused.get_data(as_text=True)
    # The password step is refused as well: the counter is the same.
    assert auth.login(owner.email).status_code == 429


def test_the_second_step_cannot_be_skipped(client, auth, owner, enable_two_factor):
    enable_two_factor()
    auth.logout()
    sign_in_to_second_step(auth, owner.email)
    for path in ("/account/", f"/console/w/{owner.slug}/", "/console/"):
        assert client.get(path).status_code == 303
    assert client.get("/login/two-factor").status_code == 200


def test_setup_refuses_a_wrong_code(client, owner):
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "otpauth://totp/EtherGate:" in page and 'src="data:image/svg+xml' in page
    response = client.submit("/account/two-factor", {"code": "111111"}, page="/account/two-factor")
    assert response.status_code == 422 and "does not match" in response.get_data(as_text=True)
    db.session.expire_all()
    assert not owner.user.two_factor_enabled


def test_owner_requires_two_factor_and_members_without_it_are_held_back(client, auth, owner, join,
                                                                        enable_two_factor):
    refused = client.submit(f"/console/w/{owner.slug}/members/two-factor", {"required": "1"})
    assert refused.status_code == 422 and "Turn on two-factor authentication for your own account first" in \
        refused.get_data(as_text=True)
    secret = enable_two_factor()
    colleague = join(owner.workspace, "admin")
    assert client.submit(f"/console/w/{owner.slug}/members/two-factor", {"required": "1"}).status_code == 303
    assert client.get(f"/console/w/{owner.slug}/keys/").status_code == 200  # the owner has it
    auth.logout()
    auth.login(colleague.email)
    for path in (f"/console/w/{owner.slug}/", f"/console/w/{owner.slug}/keys/", f"/console/w/{owner.slug}/members"):
        blocked = client.get(path)
        assert blocked.status_code == 403, path
        assert "require two-factor authentication" in blocked.get_data(as_text=True)
    # An admin cannot lift the requirement.
    assert client.submit(f"/console/w/{owner.slug}/members/two-factor", {"required": "0"}).status_code == 403
    colleague_secret = enable_colleague(client)
    assert client.get(f"/console/w/{owner.slug}/").status_code == 200
    # While required, two-factor cannot be turned off.
    off = client.submit("/account/two-factor/disable", {"off-current": PASSWORD,
                                                       "off-code": totp_code(colleague_secret, 1)}, page="/account/")
    assert off.status_code == 422 and "requires two-factor authentication" in off.get_data(as_text=True)
    assert secret


def enable_colleague(client) -> str:
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    assert client.submit("/account/two-factor", {"code": totp_code(secret)}, page="/account/two-factor").status_code == 200
    return secret


def test_turn_off_needs_password_and_code(client, owner, enable_two_factor):
    secret = enable_two_factor()
    wrong = client.submit("/account/two-factor/disable", {"off-current": "nope-nope", "off-code": totp_code(secret, 1)},
                          page="/account/")
    assert wrong.status_code == 422
    ok = client.submit("/account/two-factor/disable", {"off-current": PASSWORD, "off-code": totp_code(secret, 1)},
                       page="/account/")
    assert ok.status_code == 303
    db.session.expire_all()
    assert not owner.user.two_factor_enabled
