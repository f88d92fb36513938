"""Account security in a real browser, against the real server and a real SMTP server on loopback.

Links are followed from the delivered messages; two-factor codes are generated from the secret the
setup page shows. Once in English (invite by email, enforced two-factor, reset by email) and once in
Chinese (verification, two-factor sign-in, reset, all in zh).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, LiveServer, fresh_database
from tests.console.conftest import PASSWORD
from tests.mail.conftest import smtp_server  # noqa: F401  (fixture)
from tests.mail.smtp import free_port

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a fresh passphrase 42"


class SiteOnPort(LiveServer):
    """The live server on a port chosen up front, so ETHERGATE_PUBLIC_BASE_URL (links in emails) can name it."""

    def __init__(self, *args, port: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.port = port

    def start(self) -> "SiteOnPort":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "wsgi.py", "--host", "127.0.0.1", "--port", str(self.port)],
                                        cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=log)
        line = self.process.stdout.readline().decode()
        if "listening on" not in line:
            self.process.kill()
            raise RuntimeError(f"live server did not start: {line!r}\n{self.log_path.read_text()[-2000:]}")
        self.url = line.strip().rsplit(" ", 1)[-1]
        return self


@pytest.fixture
def site(engine, template_databases, tmp_path, request, fake_upstream, smtp_server):  # noqa: F811
    port = free_port()
    env = {**smtp_server.env, "ETHERGATE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    server = SiteOnPort(fresh_database(engine, template_databases, tmp_path, request), fake_upstream, env,
                        tmp_path / "server.log", port=port).start()
    yield server
    server.stop()


def code_for(secret: str, steps_ahead: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + steps_ahead * totp.interval)


def new_page(chromium, locale: str):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(15_000)
    return context.new_page()


def set_up_two_factor(page, site, turn_on: str, saved: str) -> tuple[str, list[str]]:
    page.goto(site.url + "/account/two-factor")
    qr = page.locator("img[src^='data:image/svg+xml']")
    qr.wait_for()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the CSP lets the data: image load
    secret = page.locator("#totp-secret").inner_text().strip()
    page.locator("input[name=code]").fill(code_for(secret))
    page.get_by_role("button", name=turn_on).click()
    codes = page.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10
    page.get_by_role("link", name=saved).click()
    return secret, codes


def test_invite_enforce_two_factor_and_reset_in_english(site, smtp_server, chromium, screenshot):  # noqa: F811
    alice = new_page(chromium, "en-US")
    alice.goto(site.url + "/signup")
    alice.get_by_label("Email").fill("alice@launch.example")
    alice.get_by_label("Password").fill(PASSWORD)
    alice.get_by_role("button", name="Create account").click()
    alice.wait_for_url("**/console/workspaces/new")
    expect(alice.locator("#flash")).to_contain_text("We sent a link to alice@launch.example")
    verify = smtp_server.wait_for("alice@launch.example")
    assert verify.subject == "Verify your email address for EtherGate"
    alice.goto(verify.links[0])
    alice.get_by_role("button", name="Confirm alice@launch.example").click()
    expect(alice.locator("#flash")).to_contain_text("alice@launch.example is verified.")
    alice.get_by_label("Workspace name").fill("Launch Co")
    alice.get_by_role("button", name="Create workspace").click()
    alice.wait_for_url(re.compile(r".*/console/w/[^/]+/$"))
    slug = alice.url.rstrip("/").rsplit("/", 1)[-1]

    secret, _codes = set_up_two_factor(alice, site, "Turn on two-factor", "Done, I saved them")
    expect(alice.locator("#account-two-factor")).to_contain_text("10 recovery codes left")
    screenshot(alice, "01-account")

    # Invite Bob: the email goes out, and the page says so (no link to copy).
    alice.goto(f"{site.url}/console/w/{slug}/members")
    alice.get_by_label("Email").fill("bob@launch.example")
    alice.get_by_role("button", name="Invite").click()
    expect(alice.locator("#flash")).to_contain_text("Invitation emailed to bob@launch.example")
    assert alice.locator("#invite-url").count() == 0
    invite = smtp_server.wait_for("bob@launch.example")
    assert invite.subject == "alice@launch.example invited you to Launch Co on EtherGate"

    bob = new_page(chromium, "en-US")
    bob.goto(invite.links[0])
    bob.get_by_role("link", name="Create an account with bob@launch.example").click()
    bob.wait_for_url("**/signup?**")
    bob.wait_for_load_state("networkidle")
    expect(bob.get_by_label("Email")).to_have_value("bob@launch.example")
    bob.get_by_label("Password").fill(PASSWORD)
    bob.get_by_role("button", name="Create account").click()
    bob.wait_for_url(f"**/console/w/{slug}/")
    expect(bob.locator("#flash")).to_contain_text("You joined Launch Co.")

    # Alice requires two-factor; Bob, without it, is held at the door until he sets it up.
    alice.get_by_role("button", name="Require two-factor for all members").click()
    expect(alice.locator("#flash")).to_contain_text("now need two-factor authentication")
    bob.goto(f"{site.url}/console/w/{slug}/")
    expect(bob.get_by_role("heading", name="Two-factor authentication required")).to_be_visible()
    screenshot(bob, "02-two-factor-required")
    bob.get_by_role("link", name="Set up two-factor").click()
    bob.wait_for_url("**/account/two-factor")
    bob.wait_for_load_state("networkidle")
    bob_secret = bob.locator("#totp-secret").inner_text().strip()
    bob.locator("input[name=code]").fill(code_for(bob_secret))
    bob.get_by_role("button", name="Turn on two-factor").click()
    bob.get_by_role("link", name="Done, I saved them").click()
    bob.goto(f"{site.url}/console/w/{slug}/")
    expect(bob.get_by_role("heading", name="Launch Co")).to_be_visible()

    # Alice forgets her password: reset by the emailed link, then sign in with it and a code.
    alice.get_by_role("button", name="Sign out").click()
    alice.wait_for_url(site.url + "/")
    alice.goto(site.url + "/login")
    alice.get_by_role("link", name="Forgot your password?").click()
    alice.wait_for_url("**/password/forgot")
    alice.wait_for_load_state("networkidle")
    alice.get_by_label("Email").fill("alice@launch.example")
    alice.get_by_role("button", name="Send reset link").click()
    expect(alice.locator("main")).to_contain_text("we emailed it a link")
    reset = smtp_server.wait_for("alice@launch.example", count=2)
    assert reset.subject == "Reset your EtherGate password"
    alice.goto(reset.links[0])
    alice.get_by_label("New password").fill(NEW_PASSWORD)
    alice.get_by_role("button", name="Save new password").click()
    alice.wait_for_url("**/login")
    alice.goto(reset.links[0])
    expect(alice.locator("main")).to_contain_text("This link was already used")
    alice.goto(site.url + "/login")
    alice.get_by_label("Email").fill("alice@launch.example")
    alice.get_by_label("Password").fill(NEW_PASSWORD)
    alice.get_by_role("button", name="Sign in").click()
    alice.wait_for_url("**/login/two-factor")
    alice.get_by_label("Authentication code").fill(code_for(secret, 1))
    alice.get_by_role("button", name="Verify").click()
    alice.wait_for_url(f"**/console/w/{slug}/")
    screenshot(alice, "03-signed-in-after-reset")


def test_verification_two_factor_and_reset_in_chinese(site, smtp_server, chromium, screenshot):  # noqa: F811
    page = new_page(chromium, "zh-CN")
    page.goto(site.url + "/signup")
    page.get_by_label("邮箱").fill("li@launch.example")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="创建账号").click()
    page.wait_for_url("**/console/workspaces/new")
    expect(page.locator("#flash")).to_contain_text("我们已向 li@launch.example 发送验证链接")
    verify = smtp_server.wait_for("li@launch.example")
    assert verify.subject == "验证你在 EtherGate 的邮箱地址" and "48 小时后过期" in verify.body
    page.goto(verify.links[0])
    page.get_by_role("button", name="确认 li@launch.example").click()
    expect(page.locator("#flash")).to_contain_text("li@launch.example 已验证。")

    secret, codes = set_up_two_factor(page, site, "开启两步验证", "完成，我已保存")
    expect(page.locator("#account-two-factor")).to_contain_text("剩余 10 个恢复码")
    screenshot(page, "01-account-zh")

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(site.url + "/")
    page.goto(site.url + "/login")
    page.get_by_label("邮箱").fill("li@launch.example")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/login/two-factor")
    page.get_by_label("验证码").fill("000000")
    page.get_by_role("button", name="验证").click()
    expect(page.locator("main")).to_contain_text("验证码不正确或已被使用")
    page.get_by_label("验证码").fill(codes[0])
    page.get_by_role("button", name="验证").click()
    page.wait_for_url("**/console/**")
    expect(page.locator("#flash")).to_contain_text("你使用了一个恢复码，还剩 9 个")

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(site.url + "/")
    page.goto(site.url + "/password/forgot")
    page.get_by_label("邮箱").fill("li@launch.example")
    page.get_by_role("button", name="发送重置链接").click()
    reset = smtp_server.wait_for("li@launch.example", count=2)
    assert reset.subject == "重置你的 EtherGate 密码"
    page.goto(reset.links[0])
    page.get_by_label("新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_url("**/login")
    expect(page.locator("#flash")).to_contain_text("密码已修改")
    page.get_by_label("邮箱").fill("li@launch.example")
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_label("验证码").fill(code_for(secret, 1))
    page.get_by_role("button", name="验证").click()
    page.wait_for_url("**/console/**")
    screenshot(page, "02-signed-in-zh")
