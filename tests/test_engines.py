"""The engine rules: money and multi-process tests run on both engines, pages on one, markers override."""
from tests.engines import engines_for

BOTH = ["sqlite", "postgresql"]


def test_money_and_multi_process_tests_run_on_both_engines():
    for path in ("tests/billing/test_new_feature.py", "tests/ops/test_metrics.py", "tests/test_migrations.py",
                 "tests/support/test_credits.py", "tests/gateway/test_e2e_errors.py", "tests/newdir/test_x.py"):
        assert engines_for(path, set(), BOTH) == BOTH, path


def test_pages_and_installers_run_on_the_first_engine():
    for path in ("tests/console/test_new_page.py", "tests/support/test_search.py", "tests/integrations/test_x.py"):
        assert engines_for(path, set(), BOTH) == ["sqlite"], path
    assert engines_for("tests/console/test_x.py", set(), ["postgresql"]) == ["postgresql"]


def test_markers_override_the_path():
    assert engines_for("tests/console/test_x.py", {"both_engines"}, BOTH) == BOTH
    assert engines_for("tests/billing/test_x.py", {"one_engine"}, BOTH) == ["sqlite"]


def test_postgresql_only_tests_follow_the_selection():
    assert engines_for("tests/console/test_x.py", {"postgresql_only"}, BOTH) == ["postgresql"]
    assert engines_for("tests/billing/test_x.py", {"postgresql_only"}, ["sqlite"]) == []
