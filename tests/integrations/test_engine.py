"""The merge engine's parts on their own: JSON5 reading, YAML line edits, atomic writes with rollback."""
import math
from pathlib import Path

import pytest

from tests.integrations.conftest import load_engine

engine = load_engine()


@pytest.mark.parametrize("text, expected", [
    ('{"a": 1}', {"a": 1}),
    ("// lead\n{ a: 1, /* mid */ b: [1, 2,], }", {"a": 1, "b": [1, 2]}),
    ("{ 'single': 'it\\'s \"q\"', $dollar_key: true, _u: null }", {"single": "it's \"q\"", "$dollar_key": True, "_u": None}),
    ("{ hex: 0x1F, neg: -0x10, lead: .5, trail: 5., plus: +3, exp: 1e3 }",
     {"hex": 31, "neg": -16, "lead": 0.5, "trail": 5.0, "plus": 3, "exp": 1000.0}),
    ("{ s: 'line \\\n  continued', esc: \"tab\\tq\\\"\\u00e9\\x41\" }", {"s": "line   continued", "esc": "tab\tq\"éA"}),
    ("{ emoji: '\\ud83d\\ude00', url: 'http://x//y' }", {"emoji": "\U0001F600", "url": "http://x//y"}),
    ("\ufeff{}", {}),
])
def test_json5_reads_hand_written_configs(text, expected):
    assert engine.json5_loads(text)[0] == expected


def test_json5_reports_comments_and_special_numbers():
    value, comments = engine.json5_loads("{ a: Infinity, b: -Infinity, c: NaN } // done")
    assert comments and value["a"] == math.inf and value["b"] == -math.inf and math.isnan(value["c"])
    assert engine.json5_loads('{"a": "// not a comment"}') == ({"a": "// not a comment"}, False)


@pytest.mark.parametrize("text", ["{ a: 1 ", "{ a: [1, 2 }", "{ 'a': 'unterminated }", "{ a: 1 } extra", "{ 1a: 2 }"])
def test_json5_rejects_broken_text_with_a_position(text):
    with pytest.raises(engine.JSON5Error, match="line 1, column"):
        engine.json5_loads(text)


ENTRY = engine.hermes_provider("https://gw.example", [{"id": "qwen/qwen-plus", "context_length": 1000000}], "qwen/qwen-plus")


def test_yaml_merge_appends_to_an_empty_file_and_reads_back():
    text = engine.hermes_merge("", ENTRY, True, "https://gw.example")
    doc = engine.YAMLDocument(text)
    assert engine.hermes_read_model(doc) == ("ethergate", "qwen/qwen-plus")
    assert 'api: "https://gw.example/v1"' in text and '"qwen/qwen-plus":\n        context_length: 1000000' in text


def test_yaml_merge_follows_the_files_indent_and_keeps_siblings():
    text = "providers:\n    other:\n        api: http://o/v1\n    # note\nmodel: x\n"
    merged = engine.hermes_merge(text, ENTRY, False, "https://gw.example")
    assert merged.startswith("providers:\n    other:\n        api: http://o/v1\n    ethergate:\n        name: \"EtherGate\"\n")
    assert "    # note\nmodel: x\n" in merged


def test_yaml_merge_replaces_only_the_model_keys_it_owns():
    text = "model:\n  provider: custom:ethergate\n  default: old/model  # was\n  base_url: keep\nother: 1\n"
    merged = engine.hermes_merge(text, ENTRY, True, "https://gw.example")
    assert merged.startswith('model:\n  provider: "ethergate"\n  default: "qwen/qwen-plus"\n  base_url: keep\n')
    assert "  base_url: keep\nother: 1\n" in merged


def test_yaml_custom_providers_matched_by_url_or_name():
    text = ("custom_providers:\n  - name: Mine\n    base_url: https://gw.example/v1\n"
            "  - base_url: http://keep/v1\n    name: keep\n  - {name: flow}\n")
    merged = engine.hermes_merge(text, ENTRY, False, "https://gw.example")
    assert merged.startswith("custom_providers:\n  - base_url: http://keep/v1\n    name: keep\n  - {name: flow}\n")


@pytest.mark.parametrize("text", ["providers: {a: 1}\n", "providers:\n\tethergate: 1\n", "model: {provider: x}\n"])
def test_yaml_shapes_it_cannot_edit_safely_are_refused(text):
    with pytest.raises(engine.YAMLEditError):
        engine.hermes_read_model(engine.YAMLDocument(text))
        engine.hermes_merge(text, ENTRY, True, "https://gw.example")


def test_dotenv_replaces_every_copy_of_the_key_and_keeps_the_rest():
    text = "A=1\nexport ETHERGATE_API_KEY='cr_old'\n# c\nETHERGATE_API_KEY=cr_dup\n"
    assert engine.dotenv_read(text) == "cr_old"
    assert engine.dotenv_merge(text, "cr_new") == "A=1\nETHERGATE_API_KEY=cr_new\n# c\n"
    assert engine.dotenv_merge("", "cr_new") == "ETHERGATE_API_KEY=cr_new\n"


def test_choose_model_prefers_request_then_current_then_catalog_order():
    models = [{"id": "moonshot/kimi"}, {"id": "qwen/qwen-plus", "aliases": ["qwen/plus"]}]
    assert engine.choose_model(models, "qwen/plus", None, "en") == "qwen/qwen-plus"
    assert engine.choose_model(models, None, "moonshot/kimi", "en") == "moonshot/kimi"
    assert engine.choose_model(models, None, "gone/model", "en") == "qwen/qwen-plus"
    assert engine.choose_model(models[:1], None, None, "en") == "moonshot/kimi"


def test_a_failed_write_restores_files_already_written(tmp_path, monkeypatch):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text("old a")
    os_replace = engine.os.replace
    calls = []

    def failing_replace(source, target):
        calls.append(target)
        if str(target) == str(second):
            raise PermissionError(13, "Permission denied")
        return os_replace(source, target)

    monkeypatch.setattr(engine.os, "replace", failing_replace)
    changes = [engine.Change(first, "new a", secret=True), engine.Change(second, "new b")]
    with pytest.raises(engine.Abort) as failure:
        engine.apply(changes, "20260101-000000", "en")
    assert failure.value.key == "write_failed"
    assert first.read_text() == "old a" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_atomic_write_sets_the_mode_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "secret"
    engine.atomic_write(target, b"x", 0o600)
    assert target.read_bytes() == b"x" and target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_the_engine_uses_only_the_standard_library():
    source = Path(engine.__file__).read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "argparse", "json", "os", "re", "stat", "sys", "tempfile", "time", "urllib", "pathlib"}
