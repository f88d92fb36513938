"""The Integrations page: install commands for this instance, a key picker that never shows a full key."""
from html import unescape

from ethergate.keys.services import revoke_key


def page_url(slug, query=""):
    return f"/console/w/{slug}/integrations{query}"


def test_commands_use_the_base_url_and_never_a_full_key(app, client, owner, factories):
    app.config["PUBLIC_BASE_URL"] = "https://api.example.cn"
    issued = factories.key(owner.workspace, name="agent laptop")
    response = client.get(page_url(owner.slug))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = unescape(response.get_data(as_text=True))
    assert "curl -fsSL 'https://api.example.cn/console/skills/ethergate-provider/install.sh' | bash -s -- " \
           "--target qclaw --api-key '<your-ethergate-key>' --locale 'en'" in page
    assert "install.ps1" in page
    for target in ("qclaw", "openclaw", "hermes", "qwen-code", "opencode", "aider"):
        assert f"--target {target} " in page and f"-Target {target} " in page
    assert "https://api.example.cn/v1" in page
    assert issued.plaintext not in page
    assert f"agent laptop ({issued.key.prefix}…)" in page
    assert f"Replace <your-ethergate-key> with your key that starts with {issued.key.prefix}." in page
    assert "restart the OpenClaw gateway" in page and "Then quit and reopen QClaw." in page
    assert '<a href="/console/w/acme/integrations" aria-current="page">Integrations</a>' in page


def test_key_picker_lists_active_keys_and_swaps_the_commands(client, owner, factories):
    first = factories.key(owner.workspace, name="one")
    second = factories.key(owner.workspace, name="two")
    gone = factories.key(owner.workspace, name="gone")
    revoke_key(gone.key.id)
    other = factories.tenant()
    page = unescape(client.get(page_url(owner.slug)).get_data(as_text=True))
    assert "one (" in page and "two (" in page and "gone (" not in page
    assert "Replace <your-ethergate-key> with your EtherGate key (it starts with cr_)." in page

    fragment = client.htmx_get(page_url(owner.slug, f"?key={second.key.id}"), target="commands")
    body = unescape(fragment.get_data(as_text=True))
    assert fragment.status_code == 200 and "<html" not in body and body.lstrip().startswith('<div id="commands">')
    assert f"starts with {second.key.prefix}." in body
    for issued in (first, second, gone):
        assert issued.plaintext not in body

    foreign = unescape(client.get(page_url(owner.slug, f"?key={other.key.id}")).get_data(as_text=True))
    assert other.key.prefix not in foreign and other.plaintext not in foreign


def test_without_keys_the_page_says_to_create_one(client, owner):
    page = client.get(page_url(owner.slug)).get_data(as_text=True)
    assert "This workspace has no active key yet." in page and "/console/w/acme/keys/?new=1" in page
    assert "--api-key &#39;&lt;your-ethergate-key&gt;&#39;" in page


def test_chinese_locale_makes_the_installer_speak_chinese(client, owner):
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    page = unescape(client.get(page_url(owner.slug)).get_data(as_text=True))
    assert "--locale 'zh'" in page and "-Locale 'zh'" in page and "安装命令" in page


def test_every_member_sees_the_page(client, auth, owner, join, factories):
    factories.key(owner.workspace, name="shared")
    member = join(owner.workspace, "member")
    auth.logout()
    auth.login(member.email)
    assert "shared (" in client.get(page_url(owner.slug)).get_data(as_text=True)
