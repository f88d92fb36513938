"""The main pages at a laptop's and a phone's width: full-page screenshots, no sideways page scroll, and
every table's cost column in view (not hidden behind a table scroller).

Traffic is real: the live server, the fake upstream, a few successes and refusals, so the tables have
rows. Screenshots land in test-artifacts/screenshots/ for a person to look at.
"""
from __future__ import annotations

import pytest
import requests

from ethergate.extensions import db
from tests.console.conftest import PASSWORD

pytestmark = pytest.mark.browser
WIDTHS = (1280, 390)

# Per page: the path under the workspace (or the site), and whether it needs the workspace prefix.
PAGES = [("dashboard", "/"), ("usage", "/usage/"), ("keys", "/keys/"), ("key", "/keys/{key_id}"),
         ("credits", "/credits/"), ("settings", "/settings"), ("audit", "/audit"), ("request", "/usage/requests/{rid}")]
SITE_PAGES = [("landing", "/"), ("models", "/models"), ("model", "/models/deepseek/deepseek-v4-flash"),
              ("docs", "/docs"), ("docs-billing", "/docs/billing")]

# For every table on the page: is its cost column (a header or data-label named Cost, Spend or Amount)
# inside the viewport and inside every scrolling ancestor's visible box? Returns the offenders.
COST_IN_VIEW = """() => {
  const names = /^(Cost|Spend|Amount|Price now|Input|Output)$/;
  const bad = [];
  const vw = document.documentElement.clientWidth;
  for (const table of document.querySelectorAll('main table')) {
    const heads = [...table.querySelectorAll('thead th')];
    let index = heads.findIndex(th => names.test(th.textContent.trim()));
    let cells;
    if (index >= 0 && getComputedStyle(table.querySelector('thead')).position !== 'absolute') {
      cells = [heads[index], ...[...table.querySelectorAll('tbody tr')].map(tr => tr.children[index])];
    } else {
      cells = [...table.querySelectorAll('tbody td[data-label]')].filter(td => names.test(td.dataset.label));
    }
    for (const cell of cells.filter(Boolean)) {
      const box = cell.getBoundingClientRect();
      if (box.width === 0) continue;
      let right = vw, left = 0;
      for (let el = cell.parentElement; el && el !== document.body; el = el.parentElement) {
        const style = getComputedStyle(el);
        if (/(auto|scroll|hidden)/.test(style.overflowX)) {
          const frame = el.getBoundingClientRect();
          right = Math.min(right, frame.right); left = Math.max(left, frame.left);
        }
      }
      if (box.right > right + 1 || box.left < left - 1) {
        bad.push((table.id || table.className) + ': ' + cell.textContent.trim().slice(0, 30) +
                 ' at ' + Math.round(box.left) + '-' + Math.round(box.right) + ', visible ' +
                 Math.round(left) + '-' + Math.round(right));
      }
    }
  }
  return bad;
}"""
# Cells whose text is cut off (content wider than the cell box while the cell hides overflow).
CLIPPED = """() => [...document.querySelectorAll('main table td, main table th, main .stat-value')]
  .filter(el => el.scrollWidth > el.clientWidth + 1 &&
                (el.matches('.stat-value') || getComputedStyle(el).overflow !== 'visible'))
  .map(el => el.textContent.trim().slice(0, 30))"""
TABLES_SCROLLING = """() => [...document.querySelectorAll('main .table-wrap')]
  .filter(wrap => wrap.checkVisibility() && wrap.scrollWidth > wrap.clientWidth + 1)
  .map(wrap => (wrap.querySelector('table') || wrap).id || wrap.className)"""


def seed_traffic(live_server, plaintext: str) -> str:
    """A few real requests: two answered, a bad temperature, an unknown model; returns an answered ID."""
    def call(body: dict, request_id: str):
        return requests.post(live_server.base_url + "/chat/completions", timeout=30, json=body,
                             headers={"Authorization": f"Bearer {plaintext}", "X-Request-Id": request_id})
    ok = call({"model": "deepseek/deepseek-v4-flash", "messages": [{"role": "user", "content": "hello"}]},
              "layout-request-0001-with-a-long-client-id")
    assert ok.status_code == 200, ok.text
    assert call({"model": "qwen/qwen-plus", "messages": [{"role": "user", "content": "hi"}]},
                "layout-request-0002").status_code == 200
    assert call({"model": "qwen/qwen-plus", "temperature": 7, "messages": [{"role": "user", "content": "hi"}]},
                "layout-request-0003").status_code == 400
    assert call({"model": "nope/model", "messages": [{"role": "user", "content": "hi"}]},
                "layout-request-0004").status_code == 404
    return "layout-request-0001-with-a-long-client-id"


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/console/**")


def problems(page, screenshot, name: str, width: int) -> list[str]:
    page.wait_for_load_state("networkidle")
    screenshot(page, f"{width}-{name}")
    found = []
    scroll = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    if scroll[0] > scroll[1]:
        found.append(f"{name}: the page scrolls sideways ({scroll[0]} > {scroll[1]} px)")
    found += [f"{name}: cost column out of view: {where}" for where in page.evaluate(COST_IN_VIEW)]
    found += [f"{name}: text clipped: {text}" for text in page.evaluate(CLIPPED)]
    # No table scrolls inside its card: a laptop shows every column, a phone shows rows as labelled cards.
    found += [f"{name}: table scrolls inside its card: {table}" for table in page.evaluate(TABLES_SCROLLING)]
    if width >= 1280:
        if name == "landing" and page.evaluate("[...document.querySelectorAll('.hero-code pre')]"
                                               ".some(pre => pre.scrollWidth > pre.clientWidth + 1)"):
            found.append("landing: the code sample scrolls sideways")
    return found


@pytest.mark.parametrize("width", WIDTHS)
def test_main_pages_fit_their_width(live_server, live_factories, fake_upstream, chromium, screenshot, width):
    fake_upstream.clear()
    tenant = live_factories.tenant(credits="123456.789012", name="production")
    key_id, slug, email = tenant.key.id, tenant.workspace.slug, tenant.user.email
    db.session.rollback()  # the live server writes next; hold no SQLite lock here
    request_id = seed_traffic(live_server, tenant.plaintext)

    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    sign_in(page, live_server.url, email)
    found = []
    for name, path in PAGES:
        answer = page.goto(f"{live_server.url}/console/w/{slug}" + path.format(key_id=key_id, rid=request_id))
        assert answer.status == 200, (name, answer.status)
        found += problems(page, screenshot, name, width)
    for name, path in SITE_PAGES:
        answer = page.goto(live_server.url + path)
        assert answer.status == 200, (name, answer.status)
        found += problems(page, screenshot, name, width)
    context.close()
    assert found == [], "\n".join(found)
