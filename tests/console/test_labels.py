"""One label per ledger entry kind, key status and hold state: the domain names each, every page shows that name."""
import pytest
from flask_babel import force_locale

from ethergate.billing import codes
from ethergate.billing.models import ENTRY_KINDS, HOLD_STATES
from ethergate.keys.models import KEY_STATUSES
from tests.support.conftest import STAFF_EMAIL, make_staff


@pytest.mark.parametrize("labels", [ENTRY_KINDS, HOLD_STATES, KEY_STATUSES], ids=["entry", "hold", "key"])
def test_every_label_reads_in_chinese(app, labels):
    with app.test_request_context():
        english = {value: str(label) for value, label in labels.items()}
        with force_locale("zh_Hans_CN"):
            chinese = {value: str(label) for value, label in labels.items()}
    assert [value for value in labels if chinese[value] == english[value]] == []


def test_templates_format_an_unknown_value_as_stored(app):
    with app.test_request_context():
        template = app.jinja_env.from_string("{{ entry_kind_label('topup') }}|{{ key_status_label('paused') }}"
                                             "|{{ hold_status_label('voided') }}")
        assert template.render() == "card top-up|paused|voided"


def test_the_credits_page_and_the_support_page_name_an_entry_alike(client, auth, owner):
    _code, plaintext = codes.create_code(2_000_000)
    codes.redeem_code(owner.workspace.id, plaintext)
    credits = client.get(f"/console/w/{owner.slug}/credits/").get_data(as_text=True)
    auth.logout()
    make_staff()
    assert auth.login(STAFF_EMAIL).status_code == 303
    support = client.get(f"/support/workspaces/{owner.slug}").get_data(as_text=True)
    assert ">redemption code</span>" in credits and ">redemption code</span>" in support
    assert ">grant</span>" in credits and ">grant</span>" in support
