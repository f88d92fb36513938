"""Languages of the console: Flask-Babel set-up, locale choice, catalogs, and per-locale money.

Strings are marked with `gettext as _` (in a request) or `lazy_gettext as _l` (module level), and
`{{ _("...") }}` in templates. To refresh the catalogs after changing strings::

    pybabel extract -F babel.cfg -k _l -o messages.pot .
    pybabel update -i messages.pot -d ethergate/translations
    # translate ethergate/translations/zh_Hans_CN/LC_MESSAGES/messages.po, then delete messages.pot

Only the .po files are kept in git; `compile_catalogs()` writes the .mo files next to them when the
app starts (when missing or older than the .po), so no build step is needed.

The chosen language lives in the session and, for signed-in users, in `users.locale`, which is
VARCHAR(8): it stores the short tag ("en", "zh-CN"), never the longer Babel identifier.
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from flask import Flask, current_app, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

from .money import symbol, to_decimal

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SESSION_KEY = "locale"

babel = Babel()


@dataclass(frozen=True)
class Language:
    tag: str        # short, for forms, the session, users.locale and <html lang>
    locale: str     # Babel identifier, also the catalog directory name
    label: str      # in its own language, as a switcher shows it


LANGUAGES = (
    Language("en", "en", "English"),
    Language("zh-CN", "zh_Hans_CN", "简体中文"),
)
DEFAULT = LANGUAGES[0]
BY_TAG = {language.tag: language for language in LANGUAGES}


def language(tag: str | None) -> Language | None:
    return BY_TAG.get(tag or "")


def current_language() -> Language:
    locale = str(get_locale() or DEFAULT.locale)
    return next((lang for lang in LANGUAGES if lang.locale == locale), DEFAULT)


def select_locale() -> str:
    """Session first, then the signed-in user's saved choice, then the browser's Accept-Language."""
    chosen = language(session.get(SESSION_KEY))
    if chosen is None and current_user and current_user.is_authenticated:
        chosen = language(current_user.locale)
    if chosen is None:
        best = request.accept_languages.best_match([lang.tag for lang in LANGUAGES] + ["zh"])
        chosen = BY_TAG["zh-CN"] if best == "zh" else language(best)
    return (chosen or DEFAULT).locale


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Write <lang>/LC_MESSAGES/*.mo from the .po beside it when missing or stale; returns what it wrote."""
    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        try:
            # Write then rename, so a worker starting at the same moment never reads half a file.
            fd, tmp = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
            with os.fdopen(fd, "wb") as mo_file:
                write_mo(mo_file, catalog)
            os.replace(tmp, mo_path)
        except OSError as exc:
            log.error("i18n: cannot write %s (%s); that language falls back to English", mo_path, exc)
            continue
        written.append(mo_path)
    return written


def format_money(micro: int, currency: str | None = None, locale: str | None = None) -> str:
    """Symbol + amount with the locale's separators (the reader's unless given); 2 decimals, more only when
    needed to be exact."""
    currency = currency or current_app.config["CURRENCY"]
    amount = format_decimal(abs(to_decimal(micro)), format="#,##0.00####", locale=locale or get_locale() or "en")
    return f"{'-' if micro < 0 else ''}{symbol(currency)}{amount}"


def format_number(value: int | Decimal) -> str:
    return format_decimal(value, locale=get_locale() or "en")


def init_app(app: Flask) -> None:
    compile_catalogs()
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT.locale)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current_language)
