"""The shipped catalog loads idempotently; disappearing models become inactive, never deleted."""
import tomllib

import pytest
from sqlalchemy import select

from ethergate.catalog.models import Model, ModelAlias, Price, Route
from ethergate.catalog.sync import SHIPPED_CATALOG, CatalogError, read_catalog, sync_catalog
from ethergate.extensions import db

DOC_IDS = ["deepseek/deepseek-chat", "deepseek/deepseek-v4-flash", "qwen/qwen-plus"]


def test_second_sync_changes_nothing(app):
    # The template database was synced already, so this is at least the second run.
    report = sync_catalog()
    assert not report.changed, report


def test_every_id_the_docs_use_exists_and_is_active(app):
    for model_id in DOC_IDS:
        model = db.session.get(Model, model_id)
        assert model is not None and model.active, model_id
        assert model.routes and model.prices


def test_each_provider_has_models(app):
    providers = {m.provider_id for m in db.session.scalars(select(Model).where(Model.active))}
    assert providers == {"deepseek", "qwen", "moonshot"}


def test_tiers_windows_and_multi_route_models_are_present(app):
    kinds = {p.kind for p in db.session.scalars(select(Price))}
    assert {"tier", "window"} <= kinds
    multi = [m for m in db.session.scalars(select(Model)) if len([r for r in m.routes if r.active]) > 1]
    assert multi


def test_removed_model_is_deactivated_not_deleted(app, tmp_path):
    data = SHIPPED_CATALOG.read_text()
    parsed = tomllib.loads(data)
    victim = parsed["models"][-1]["id"]
    # Cut the last [[models]] block out of the file.
    trimmed = data[: data.rindex("[[models]]")]
    path = tmp_path / "catalog.toml"
    path.write_text(trimmed)
    report = sync_catalog(path)
    assert victim in report.deactivated
    model = db.session.get(Model, victim)
    assert model is not None and model.active is False
    assert sync_catalog(SHIPPED_CATALOG).updated == [] or db.session.get(Model, victim).active


def test_aliases_resolve_to_their_successor(app):
    aliases = {a.alias: a.model_id for a in db.session.scalars(select(ModelAlias))}
    assert aliases, "retired names should stay usable"
    for alias, target in aliases.items():
        assert db.session.get(Model, alias) is None
        assert db.session.get(Model, target) is not None


def test_currency_mismatch_is_refused(app):
    with pytest.raises(CatalogError, match="ETHERGATE_CURRENCY"):
        sync_catalog(currency="USD")


@pytest.mark.parametrize("mutation,message", [
    (lambda d: d.replace('id = "qwen/qwen-plus"', 'id = "Qwen/Plus"'), "lower case"),
    (lambda d: d.replace('provider = "qwen"', 'provider = "nope"', 1), "unknown provider"),
    (lambda d: d + '\n[[models]]\nid = "x/y"\nname = "n"\ncontext_window = 1\nmax_output_tokens = 1\n', "route"),
])
def test_bad_catalog_files_are_refused(app, tmp_path, mutation, message):
    path = tmp_path / "bad.toml"
    path.write_text(mutation(SHIPPED_CATALOG.read_text()))
    with pytest.raises(CatalogError, match=message):
        read_catalog(path)


def test_routes_are_ordered_by_priority(app):
    for model in db.session.scalars(select(Model)):
        priorities = [r.priority for r in model.routes]
        assert priorities == sorted(priorities)
    assert db.session.scalars(select(Route)).first() is not None


def test_the_holiday_calendar_is_loaded(app):
    from ethergate.catalog.models import CalendarDay, HolidayCalendar
    calendar = db.session.get(HolidayCalendar, "cn")
    assert calendar.covers == [2026]
    days = {d.day.isoformat(): d.kind for d in db.session.scalars(select(CalendarDay))}
    assert days["2026-10-01"] == days["2026-02-23"] == "holiday" and days["2026-10-10"] == "workday"
    assert sum(kind == "holiday" for kind in days.values()) == 33
    assert sum(kind == "workday" for kind in days.values()) == 6
    windows = db.session.scalars(select(Price).where(Price.model_id == "deepseek/deepseek-v4-flash",
                                                     Price.kind == "window")).all()
    assert {(w.window_start, w.window_end, w.window_tz, w.window_days, w.window_calendar) for w in windows} == {
        ("09:00", "12:00", "Asia/Shanghai", "mon,tue,wed,thu,fri", "cn"),
        ("14:00", "18:00", "Asia/Shanghai", "mon,tue,wed,thu,fri", "cn")}


@pytest.mark.parametrize("mutation,message", [
    (lambda d: d.replace('days = ["mon", "tue", "wed", "thu", "fri"]', 'days = ["monday"]', 1), "window days"),
    (lambda d: d.replace('calendar = "cn"\n', 'calendar = "jp"\n', 1), "not defined in \\[calendars\\]"),
    (lambda d: d.replace('tz = "Asia/Shanghai"', 'tz = "Asia/Beijing"', 1), "unknown time zone"),
    (lambda d: d.replace('"2026-05-09",', '"2026-05-01",', 1), "both a holiday and a make-up working day"),
    (lambda d: d.replace('"2026-05-09",', '"2027-05-09",', 1), "does not cover"),
    (lambda d: d.replace('"2026-01-01..2026-01-03"', '"2026-01-03..2026-01-01"', 1), "range"),
    (lambda d: d.replace('"2026-01-01..2026-01-03"', '"2026-13-01"', 1), "YYYY-MM-DD"),
])
def test_bad_windows_and_calendars_are_refused(app, tmp_path, mutation, message):
    path = tmp_path / "bad.toml"
    changed = mutation(SHIPPED_CATALOG.read_text())
    assert changed != SHIPPED_CATALOG.read_text()
    path.write_text(changed)
    with pytest.raises(CatalogError, match=message):
        read_catalog(path)


def test_sync_warns_in_december_when_next_year_is_missing():
    from datetime import date

    from ethergate.catalog.sync import _coverage_warnings
    assert _coverage_warnings("cn", [2026], date(2026, 11, 30)) == []
    [warning] = _coverage_warnings("cn", [2026], date(2026, 12, 1))
    assert "2027's holidays and make-up working days" in warning
    assert len(_coverage_warnings("cn", [2026], date(2027, 1, 5))) == 1
    assert _coverage_warnings("cn", [2026, 2027], date(2026, 12, 31)) == []
