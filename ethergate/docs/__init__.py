"""The developer docs: `/docs` (the production path) and one page per topic, in English and Chinese.

`pages.PAGES` is the table of contents; each page is a template under templates/docs/ rendered with
this instance's base URL and real model IDs from the catalog (see `views.docs_context`).
"""
from __future__ import annotations

from .views import bp  # noqa: F401  (the app registers it)
