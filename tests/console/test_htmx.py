"""The htmx vocabulary and the page-or-fragment rendering the console is built on."""
import json

import pytest

from ethergate.console.shell import htmx
from ethergate.console.shell.rendering import render_block


def test_redirect_is_hx_redirect_for_htmx_and_303_otherwise(app):
    with app.app_context(), app.test_request_context():
        response = htmx.redirect("/console/")
        assert response.status_code == 303 and response.headers["Location"] == "/console/"
    with app.app_context(), app.test_request_context(headers={"HX-Request": "true"}):
        response = htmx.redirect("/console/")
        assert response.status_code == 200 and response.headers["HX-Redirect"] == "/console/"
        assert "HX-Request" in response.headers["Vary"]


def test_refresh_trigger_and_stop_polling(app):
    with app.app_context(), app.test_request_context(headers={"HX-Request": "true"}):
        assert htmx.refresh().headers["HX-Refresh"] == "true"
        response = htmx.trigger(htmx.trigger(app.make_response("ok"), "key-created", {"id": 3}), "balance-changed")
        assert json.loads(response.headers["HX-Trigger"]) == {"key-created": {"id": 3}, "balance-changed": None}
        response = htmx.stop_polling("<p>paid</p>")
        assert response.status_code == 286 and response.get_data(as_text=True) == "<p>paid</p>"


@pytest.mark.parametrize("headers,fragment", [
    ({}, False),
    ({"HX-Request": "true", "HX-Target": "members"}, True),
    ({"HX-Request": "true", "HX-Target": "members", "HX-Boosted": "true"}, False),
    ({"HX-Request": "true", "HX-Target": "members", "HX-History-Restore-Request": "true"}, False),
    ({"HX-Request": "true", "HX-Target": "not-a-block"}, False),
])
def test_render_gives_the_block_named_by_hx_target(client, owner, headers, fragment):
    response = client.get(f"/console/w/{owner.slug}/members", headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ("<html" not in body) == fragment
    assert '<div id="members"' in body
    assert "HX-Request" in response.headers["Vary"]


def test_render_block_refuses_unknown_blocks(app):
    with app.app_context(), app.test_request_context():
        with pytest.raises(LookupError):
            render_block("landing.html", "nope")
        assert render_block("errors/error.html", "title", error=type("E", (), {"code": 404, "name": "Not Found"})())


def test_anonymous_htmx_request_is_sent_to_login_with_a_full_load(client, owner, auth):
    auth.logout()
    response = client.htmx_get(f"/console/w/{owner.slug}/members", target="members")
    assert response.status_code == 200 and response.headers["HX-Redirect"].startswith("/login")


def test_fragment_errors_replace_the_page(client, owner):
    response = client.htmx_post(f"/console/w/{owner.slug}/members/999/role", {"role": "admin"}, target="member-999")
    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "body" and response.headers["HX-Reswap"] == "innerHTML"
