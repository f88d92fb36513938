"""Browser fixtures: Debian's Chromium driven by Playwright, and screenshots kept as test artifacts."""
from __future__ import annotations

import re
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture
def screenshot(request):
    """screenshot(page, name): a full-page PNG under test-artifacts/screenshots/, named after the test."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def take(page, name: str) -> Path:
        page.wait_for_load_state("networkidle")
        path = SCREENSHOTS / f"{prefix}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5_000, path
        return path

    return take
