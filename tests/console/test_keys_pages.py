"""The Keys pages: a key is shown once, revoked in place, rotated, edited; members manage only their own."""
import re
from datetime import timedelta
from html import unescape

import pytest

from ethergate.accounts.models import AuditEvent
from ethergate.billing import ledger
from ethergate.extensions import db
from ethergate.keys.models import ApiKey
from ethergate.keys.tokens import digest_key
from ethergate.timeutil import utcnow
from ethergate.usage.models import RequestLog

KEY_RE = re.compile(r"cr_[A-Za-z0-9_-]{40}")


def keys_url(slug, path=""):
    return f"/console/w/{slug}/keys/{path}"


def create(client, slug, htmx=False, **fields):
    data = {"name": "laptop", **fields}
    if htmx:
        return client.htmx_post(keys_url(slug), data, target="key_create", page=keys_url(slug))
    return client.submit(keys_url(slug), data, page=keys_url(slug))


def plaintext_in(response) -> str:
    found = KEY_RE.findall(response.get_data(as_text=True))
    assert len(found) == 1, found
    return found[0]


def models_status(client, plaintext):
    return client.get("/v1/models", headers={"Authorization": f"Bearer {plaintext}"}).status_code


def key_by_plaintext(plaintext) -> ApiKey:
    return db.session.scalar(db.select(ApiKey).where(ApiKey.digest == digest_key(plaintext)))


def session_data(client) -> str:
    cookie = client.get_cookie("ethergate_session")
    app = client.application
    return repr(app.session_interface.get_signing_serializer(app).loads(cookie.value)) if cookie else ""


def test_new_key_is_shown_once_then_only_its_prefix(client, owner):
    page = client.get(keys_url(owner.slug))
    assert page.status_code == 200 and "Create a key" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"

    response = create(client, owner.slug, rpm_limit="30")
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    plaintext = plaintext_in(response)
    body = response.get_data(as_text=True)
    assert "Store it as ETHERGATE_API_KEY; it will not be shown again." in body
    assert 'data-copy-target="new-key"' in body
    key = key_by_plaintext(plaintext)
    assert key.name == "laptop" and key.rpm_limit == 30 and key.created_by_id == owner.user.id
    assert plaintext not in session_data(client)

    again = client.get(keys_url(owner.slug)).get_data(as_text=True)
    assert plaintext not in again and KEY_RE.search(again) is None
    assert f"{key.prefix}…" in again and "laptop" in again and "30 rpm" in again
    assert models_status(client, plaintext) == 200


def test_create_by_htmx_answers_with_the_widget_and_the_list_out_of_band(client, owner):
    response = create(client, owner.slug, htmx=True, name="ci")
    body = response.get_data(as_text=True)
    assert response.status_code == 201 and "<html" not in body
    assert body.lstrip().startswith('<section id="key_create" class="card key-secret"')
    assert '<section id="keylist" class="card" hx-swap-oob="true"' in body
    plaintext = plaintext_in(response)
    assert key_by_plaintext(plaintext).prefix in body.split('id="keylist"')[1]

    done = client.htmx_get(keys_url(owner.slug), target="key_create")
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "<html" not in text and text.lstrip().startswith('<section id="key_create"')
    assert KEY_RE.search(text) is None and "Create key" in text


def test_create_form_opens_when_there_is_no_key_or_when_asked(client, owner, factories):
    assert '<details class="card" open>' in client.get(keys_url(owner.slug)).get_data(as_text=True)
    factories.key(owner.workspace)
    assert '<details class="card">' in client.get(keys_url(owner.slug)).get_data(as_text=True)
    assert '<details class="card" open>' in client.get(keys_url(owner.slug) + "?new=1").get_data(as_text=True)


def test_create_with_every_policy(client, owner):
    expires = (utcnow() + timedelta(days=30)).date()
    response = create(client, owner.slug, name="batch", rpm_limit="5", tpm_limit="20000", monthly_cap="12.50",
                      allowed_models=["qwen/qwen-plus", "deepseek/deepseek-v4-flash"], expires_on=expires.isoformat())
    assert response.status_code == 201
    key = key_by_plaintext(plaintext_in(response))
    assert (key.rpm_limit, key.tpm_limit, key.monthly_spend_cap_micro) == (5, 20_000, 12_500_000)
    assert sorted(key.allowed_models) == ["deepseek/deepseek-v4-flash", "qwen/qwen-plus"]
    assert key.expires_at.date() == expires
    page = client.get(keys_url(owner.slug)).get_data(as_text=True)
    assert "¥12.50 / month" in page and "20,000 tpm" in page and "<code>qwen/qwen-plus</code>" in page


@pytest.mark.parametrize("fields,message", [
    ({"name": ""}, "Give the key a name."),
    ({"rpm_limit": "0"}, "Enter a whole number from 1 to 1,000,000."),
    ({"monthly_cap": "1.2.3"}, "Enter a positive amount such as 50 or 12.50"),
    ({"monthly_cap": "-5"}, "Enter a positive amount such as 50 or 12.50"),
    ({"expires_on": "2020-01-01"}, "Pick a day after today (UTC)"),
    ({"allowed_models": ["nope/model"]}, "not a valid choice"),
])
def test_invalid_key_forms_are_sent_back_with_errors(client, owner, fields, message):
    response = create(client, owner.slug, **fields)
    assert response.status_code == 422 and message in unescape(response.get_data(as_text=True))
    fragment = create(client, owner.slug, htmx=True, **fields)
    assert fragment.status_code == 422 and "<html" not in fragment.get_data(as_text=True)
    assert message in unescape(fragment.get_data(as_text=True))
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiKey)) == 0


def test_revoke_in_place(client, owner):
    plaintext = plaintext_in(create(client, owner.slug))
    key = key_by_plaintext(plaintext)
    response = client.htmx_post(keys_url(owner.slug, f"{key.id}/revoke"), target=f"key-{key.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith(f'<li class="row key-row status-revoked" id="key-{key.id}">')
    assert "revoked" in body and ">Revoke<" not in body
    assert models_status(client, plaintext) == 401
    assert db.session.scalar(db.select(AuditEvent.action).where(AuditEvent.action == "key.revoked")) == "key.revoked"


def test_revoke_without_javascript_redirects_with_a_message(client, owner, factories):
    issued = factories.key(owner.workspace, name="old")
    response = client.submit(keys_url(owner.slug, f"{issued.key.id}/revoke"), {"back": "detail"})
    assert response.status_code == 303 and response.headers["Location"] == keys_url(owner.slug, str(issued.key.id))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "revoked. Requests with it now fail with 401." in page and "Revoke key" not in page


def test_rotate_now_gives_a_working_key_and_stops_the_old_one(client, owner):
    old = plaintext_in(create(client, owner.slug, rpm_limit="7"))
    key = key_by_plaintext(old)
    response = client.htmx_post(keys_url(owner.slug, f"{key.id}/rotate"), {"grace": "0"}, target="key_create")
    assert response.status_code == 200 and "Key rotated: copy the new key now" in response.get_data(as_text=True)
    new = plaintext_in(response)
    assert new != old and key_by_plaintext(new).rpm_limit == 7
    assert "hx-swap-oob" in response.get_data(as_text=True)
    assert models_status(client, new) == 200
    assert models_status(client, old) == 401


def test_rotate_with_grace_keeps_the_old_key_for_a_while(client, owner, factories):
    issued = factories.key(owner.workspace, name="prod")
    response = client.submit(keys_url(owner.slug, f"{issued.key.id}/rotate"), {"grace": "3600"})
    assert response.status_code == 200 and "<html" in response.get_data(as_text=True)
    new = plaintext_in(response)
    assert "keeps working until" in response.get_data(as_text=True)
    assert models_status(client, issued.plaintext) == 200 and models_status(client, new) == 200
    page = client.get(keys_url(owner.slug)).get_data(as_text=True)
    assert "status-rotating" in page and new not in page


def test_boosted_rotation_pushes_the_list_url(client, owner, factories):
    issued = factories.key(owner.workspace)
    response = client.htmx_post(keys_url(owner.slug, f"{issued.key.id}/rotate"), {"grace": "0"}, boosted=True)
    assert response.headers["HX-Push-Url"] == keys_url(owner.slug)
    assert "<html" in response.get_data(as_text=True)


def test_rotate_refuses_unknown_grace(client, owner, factories):
    issued = factories.key(owner.workspace)
    assert client.submit(keys_url(owner.slug, f"{issued.key.id}/rotate"), {"grace": "999"}).status_code == 400


def test_edit_limits_persists(client, owner, factories):
    issued = factories.key(owner.workspace, name="edit me")
    url = keys_url(owner.slug, f"{issued.key.id}/edit")
    response = client.submit(url, {"name": "edited", "rpm_limit": "11", "tpm_limit": "", "monthly_cap": "3",
                                   "allowed_models": ["qwen/qwen-plus"]})
    assert response.status_code == 303
    key = db.session.get(ApiKey, issued.key.id)
    assert (key.name, key.rpm_limit, key.tpm_limit, key.monthly_spend_cap_micro) == ("edited", 11, None, 3_000_000)
    assert key.allowed_models == ["qwen/qwen-plus"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Key edited saved." in page and 'value="11"' in page

    fragment = client.htmx_post(url, {"name": "edited", "rpm_limit": "12", "monthly_cap": "3"}, target="key_limits")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and body.lstrip().startswith('<form id="key_limits"') and "Saved." in body
    assert '<section id="key_summary" class="card" hx-swap-oob="true">' in body and "12 rpm" in body
    key = db.session.get(ApiKey, issued.key.id)
    assert key.rpm_limit == 12 and key.allowed_models is None

    bad = client.htmx_post(url, {"name": "", "rpm_limit": "x"}, target="key_limits")
    assert bad.status_code == 422 and "Give the key a name." in bad.get_data(as_text=True)


def test_member_manages_only_their_own_keys(client, auth, owner, factories, join):
    theirs = factories.key(owner.workspace, name="owner key", created_by_id=owner.user.id)
    member = join(owner.workspace, "member")
    auth.logout()
    auth.login(member.email)
    mine = key_by_plaintext(plaintext_in(create(client, owner.slug, name="member key")))
    assert mine.created_by_id == member.id

    page = client.get(keys_url(owner.slug)).get_data(as_text=True)
    their_row = page.split(f'id="key-{theirs.key.id}"')[1].split("</li>")[0]
    my_row = page.split(f'id="key-{mine.id}"')[1].split("</li>")[0]
    assert "Revoke" not in their_row and "Rotate" not in their_row
    assert "Revoke" in my_row and "Rotate" in my_row
    assert "Limits and models" not in client.get(keys_url(owner.slug, str(theirs.key.id))).get_data(as_text=True)

    for action, data in (("revoke", {}), ("rotate", {"grace": "0"}), ("edit", {"name": "hijacked"})):
        assert client.submit(keys_url(owner.slug, f"{theirs.key.id}/{action}"), data).status_code == 403
    assert models_status(client, theirs.plaintext) == 200
    assert db.session.get(ApiKey, theirs.key.id).name == "owner key"
    response = client.htmx_post(keys_url(owner.slug, f"{mine.id}/revoke"), target=f"key-{mine.id}")
    assert response.status_code == 200 and "status-revoked" in response.get_data(as_text=True)


def test_admin_manages_every_key(client, auth, owner, factories, join):
    member = join(owner.workspace, "member")
    theirs = factories.key(owner.workspace, name="member key", created_by_id=member.id)
    admin = join(owner.workspace, "admin")
    auth.logout()
    auth.login(admin.email)
    response = client.htmx_post(keys_url(owner.slug, f"{theirs.key.id}/revoke"), target=f"key-{theirs.key.id}")
    assert response.status_code == 200 and models_status(client, theirs.plaintext) == 401


def test_key_ids_of_other_workspaces_are_404(client, owner, factories):
    other = factories.tenant()
    key_id = other.key.id
    assert client.get(keys_url(owner.slug, str(key_id))).status_code == 404
    for action, data in (("revoke", {}), ("rotate", {"grace": "0"}), ("edit", {"name": "x"})):
        assert client.submit(keys_url(owner.slug, f"{key_id}/{action}"), data).status_code == 404
    fragment = client.htmx_post(keys_url(owner.slug, f"{key_id}/revoke"), target=f"key-{key_id}")
    assert fragment.status_code == 404 and fragment.headers["HX-Retarget"] == "body"
    assert models_status(client, other.plaintext) == 200


def test_key_page_shows_requests_tokens_errors_model_mix_and_spend(client, owner, factories):
    issued = factories.key(owner.workspace, name="busy", monthly_spend_cap_micro=5_000_000)
    other = factories.key(owner.workspace, name="quiet")
    now = utcnow()
    rows = [("req_a1", "qwen/qwen-plus", 200, 100, 50, 1_000), ("req_a2", "qwen/qwen-plus", 200, 200, 100, 2_000),
            ("req_a3", "deepseek/deepseek-v4-flash", 502, 0, 0, 0)]
    for request_id, model, status, prompt, completion, cost in rows:
        db.session.add(RequestLog(request_id=request_id, workspace_id=owner.workspace.id, api_key_id=issued.key.id,
                                  method="POST", path="/v1/chat/completions", model_id=model, status_code=status,
                                  prompt_tokens=prompt, completion_tokens=completion, cost_micro=cost, created_at=now))
    db.session.add(RequestLog(request_id="req_other", workspace_id=owner.workspace.id, api_key_id=other.key.id,
                              method="POST", path="/v1/chat/completions", status_code=200, created_at=now))
    db.session.commit()
    ledger.post_entry(owner.workspace.id, -1_000, "usage", request_id="req_a1", api_key_id=issued.key.id,
                      model_id="qwen/qwen-plus")
    ledger.post_entry(owner.workspace.id, -2_000, "usage", request_id="req_a2", api_key_id=issued.key.id,
                      model_id="qwen/qwen-plus")
    response = client.get(keys_url(owner.slug, str(issued.key.id)))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<span class="stat-value" id="key-requests">3</span>' in page
    assert '<span class="stat-value" id="key-errors">1</span>' in page
    assert '<span class="stat-value" id="key-tokens">450</span>' in page
    assert '<span class="stat-value" id="key-spend">¥0.003</span>' in page
    assert "of ¥5.00 this month" in page
    assert "req_a3" in page and "req_other" not in page
    mix = page.split("Model mix")[1].split("</table>")[0]
    assert mix.index("qwen/qwen-plus") < mix.index("deepseek/deepseek-v4-flash") and "67%" in mix
    assert client.get(keys_url(owner.slug, f"{issued.key.id}?days=7")).status_code == 200


@pytest.fixture
def usage_page(app):
    """The usage pages' request detail, or a stand-in registered before the first request."""
    if "usage.request_detail" not in app.view_functions:
        app.add_url_rule("/console/w/<slug>/usage/requests/<request_id>", endpoint="usage.request_detail",
                         view_func=lambda **_: "")
    return app


def test_request_ids_link_to_usage_only_when_that_page_exists(usage_page, client, owner, factories):
    from flask import g, url_for
    issued = factories.key(owner.workspace)
    db.session.add(RequestLog(request_id="req_linked", workspace_id=owner.workspace.id, api_key_id=issued.key.id,
                              method="POST", path="/v1/chat/completions", status_code=200, created_at=utcnow()))
    db.session.commit()
    ledger.post_entry(owner.workspace.id, -1_000, "usage", request_id="req_linked", api_key_id=issued.key.id)
    with usage_page.test_request_context():
        g.workspace = owner.workspace
        href = url_for("usage.request_detail", request_id="req_linked")
    for url in (keys_url(owner.slug, str(issued.key.id)), f"/console/w/{owner.slug}/credits/"):
        page = client.get(url).get_data(as_text=True)
        assert f'<a href="{href}"><code class="request-id">req_linked</code></a>' in page
    usage_page.view_functions.pop("usage.request_detail")
    for url in (keys_url(owner.slug, str(issued.key.id)), f"/console/w/{owner.slug}/credits/"):
        page = client.get(url).get_data(as_text=True)
        assert '<code class="request-id">req_linked</code>' in page and href not in page


def test_keys_page_in_chinese(client, owner):
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    page = client.get(keys_url(owner.slug)).get_data(as_text=True)
    assert "<h1>API 密钥</h1>" in page and "每个 /v1 请求都要在" in page
    created = create(client, owner.slug, htmx=True).get_data(as_text=True)
    assert "密钥已创建：请立即复制" in created
    assert "请将其保存为 ETHERGATE_API_KEY；它不会再次显示。" in created


def test_month_to_date_spend_shows_for_a_key_without_a_cap(client, owner, factories):
    issued = factories.key(owner.workspace, name="uncapped")
    ledger.post_entry(owner.workspace.id, -1_250_000, "usage", request_id="req_m1", api_key_id=issued.key.id,
                      model_id="qwen/qwen-plus")
    page = client.get(keys_url(owner.slug, str(issued.key.id))).get_data(as_text=True)
    assert "¥1.25 this month" in page


def test_editing_the_cap_refreshes_the_activity_card(client, owner, factories):
    issued = factories.key(owner.workspace, name="capped", monthly_spend_cap_micro=5_000_000)
    ledger.post_entry(owner.workspace.id, -1_000_000, "usage", request_id="req_c1", api_key_id=issued.key.id,
                      model_id="qwen/qwen-plus")
    assert "¥1.00 of ¥5.00 this month" in client.get(keys_url(owner.slug, str(issued.key.id))).get_data(as_text=True)
    fragment = client.htmx_post(keys_url(owner.slug, f"{issued.key.id}/edit"), {"name": "capped", "monthly_cap": "8"},
                                target="key_limits")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert '<span class="stat-note" id="key_month" hx-swap-oob="true">¥1.00 of ¥8.00 this month</span>' in body


def test_usage_filter_calls_a_key_in_its_grace_period_rotating_not_revoked(client, owner, factories):
    issued = factories.key(owner.workspace, name="prod")
    client.submit(keys_url(owner.slug, f"{issued.key.id}/rotate"), {"grace": "3600"})
    page = unescape(client.get(f"/console/w/{owner.slug}/usage/").get_data(as_text=True))
    option = re.search(r'<option value="%d"[^>]*>([^<]*)</option>' % issued.key.id, page).group(1)
    assert "rotating, still valid" in option and "revoked" not in option


def test_revoking_the_new_key_warns_that_the_old_one_still_works(client, owner, factories):
    issued = factories.key(owner.workspace, name="prod")
    new = plaintext_in(client.submit(keys_url(owner.slug, f"{issued.key.id}/rotate"), {"grace": "86400"}))
    new_key = key_by_plaintext(new)
    response = client.htmx_post(keys_url(owner.slug, f"{new_key.id}/revoke"), target=f"key-{new_key.id}",
                                page=keys_url(owner.slug))
    body = unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and 'class="flash flash-warning"' in body
    assert f"{issued.key.prefix}…) that this one replaced still works until" in body and " UTC." in body
    assert models_status(client, issued.plaintext) == 200


def test_a_keys_recent_requests_name_their_api(client, owner, factories):
    issued = factories.key(owner.workspace)
    for request_id, surface in (("req_k_msg", "messages"), ("req_k_resp", "responses")):
        db.session.add(RequestLog(request_id=request_id, workspace_id=owner.workspace.id, api_key_id=issued.key.id,
                                  method="POST", path=f"/v1/{surface}", surface=surface, status_code=200,
                                  created_at=utcnow()))
    db.session.commit()
    page = client.get(keys_url(owner.slug, str(issued.key.id))).get_data(as_text=True)
    assert "<td data-label=\"API\">Messages</td>" in page and "<td data-label=\"API\">Responses</td>" in page
