"""English and Simplified Chinese: the switch, where the choice is kept, catalogs, money and dates."""
import os
from datetime import datetime

from ethergate.accounts.models import User
from ethergate.extensions import db
from ethergate.i18n import compile_catalogs, format_money
from tests.console.conftest import PASSWORD


def switch(client, tag, next_path="/"):
    return client.submit("/language", {"lang": tag, "next": next_path})


def test_switch_to_chinese_and_back(client):
    response = switch(client, "zh-CN", "/login")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "登录 EtherGate" in page and "邮箱" in page and "密码" in page
    switch(client, "en")
    assert "Sign in to EtherGate" in client.get("/login").get_data(as_text=True)


def test_unknown_language_and_offsite_next_are_ignored(client):
    response = switch(client, "klingon", "https://evil.example/")
    assert response.headers["Location"] == "/"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_browser_language_is_the_default(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "创建账号" in page
    page = client.get("/", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)
    assert '<html lang="en">' in page


def test_choice_is_saved_on_the_account_and_follows_the_user(client, auth, owner):
    switch(client, "zh-CN", f"/console/w/{owner.slug}/")
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert "本月花费" in page and "发送第一个请求" in page
    assert db.session.get(User, owner.user.id).locale == "zh-CN"
    other = client.application.test_client()  # a new browser, no session yet
    other.submit("/login", {"email": owner.email, "password": PASSWORD}, page="/login")
    assert "本月花费" in other.get(f"/console/w/{owner.slug}/").get_data(as_text=True)


def test_validation_and_throttle_messages_are_translated(client, auth, factories):
    switch(client, "zh-CN")
    assert "请输入有效的邮箱地址。" in auth.signup("nope").get_data(as_text=True)
    user = factories.user()
    for _ in range(5):
        assert "邮箱或密码错误。" in auth.login(user.email, "wrong").get_data(as_text=True)
    assert "登录失败次数过多，请在 15 分钟后重试。" in auth.login(user.email).get_data(as_text=True)


def test_error_pages_are_translated(client):
    switch(client, "zh-CN")
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "未找到" in page and "这里没有内容，或者你没有访问权限。" in page


def test_money_and_numbers_follow_the_locale(app):
    # A fresh app context each time: Flask-Babel caches the locale on `g`.
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "en"}):
        assert format_money(1_234_567_890, "CNY") == "¥1,234.56789"
        assert format_money(-500_000, "USD") == "-$0.50"
        assert format_money(0, "CNY") == "¥0.00"
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert format_money(12_500_000, "CNY") == "¥12.50"
        # A given locale wins over the reader's: /v1 messages format money the English way for everyone.
        assert format_money(1_234_500_000, "EUR", "de") == "€1.234,50"
        from flask_babel import format_datetime
        assert "2026年" in format_datetime(datetime(2026, 3, 4, 5, 6), "medium")


def test_catalogs_compile_when_missing_or_stale(tmp_path):
    messages = tmp_path / "zh_Hans_CN" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    po = messages / "messages.po"
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "Hello"\nmsgstr "你好"\n', encoding="utf-8")
    assert compile_catalogs(tmp_path) == [messages / "messages.mo"]
    assert compile_catalogs(tmp_path) == []
    os.utime(po, (po.stat().st_mtime + 10, po.stat().st_mtime + 10))
    assert compile_catalogs(tmp_path) == [messages / "messages.mo"]
    from babel.support import Translations
    assert Translations.load(str(tmp_path), ["zh_Hans_CN"]).gettext("Hello") == "你好"
