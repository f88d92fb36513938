"""TOTP codes: one step of drift either way, nothing further, and a digest per recovery code."""
import pyotp

from ethergate.accounts.two_factor import matching_step, normalize_recovery

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_code_matches_its_step_and_one_either_side_only():
    totp = pyotp.TOTP(SECRET)
    now = 1_800_000_000
    step = now // 30
    assert matching_step(SECRET, totp.at(now), at=now) == step
    assert matching_step(SECRET, totp.at(now - 30), at=now) == step - 1
    assert matching_step(SECRET, totp.at(now + 30), at=now) == step + 1
    assert matching_step(SECRET, totp.at(now - 60), at=now) is None
    assert matching_step(SECRET, totp.at(now + 90), at=now) is None
    assert matching_step(SECRET, " " + totp.at(now)[:3] + " " + totp.at(now)[3:], at=now) == step


def test_junk_is_no_code():
    for junk in ("", "12345", "1234567", "abcdef", None):
        assert matching_step(SECRET, junk, at=1_800_000_000) is None


def test_recovery_codes_ignore_case_spaces_and_dashes():
    assert normalize_recovery(" ABCDE-fgh23 ") == normalize_recovery("abcdefgh23") == "abcdefgh23"
