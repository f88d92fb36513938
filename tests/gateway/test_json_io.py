"""The hot path's JSON writer and reader (orjson) give what the standard library gave, including its edges."""
from __future__ import annotations

import json
import math

import pytest

from ethergate.gateway.json_body import dump_json, load_json


@pytest.mark.parametrize("value", [
    {"model": "deepseek-chat", "messages": [{"role": "user", "content": "你好 – ünïcode"}], "temperature": 0.7},
    {"seed": 2 ** 70, "n": 1},            # beyond 64 bits: orjson refuses it, the standard library writes it
    {1: "int key"},                        # a non-string key: the standard library writes it as "1"
    [1e16, 1.5e-7, -0.0, True, None, ""],
])
def test_dump_json_writes_what_the_standard_library_wrote(value):
    written = dump_json(value)
    assert isinstance(written, bytes)
    assert json.loads(written) == json.loads(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    assert b": " not in written and b", " not in written


def test_dump_json_keeps_text_as_utf8_not_escapes():
    assert dump_json({"content": "价格"}) == '{"content":"价格"}'.encode("utf-8")


def test_load_json_reads_what_orjson_refuses_as_the_standard_library_did():
    assert load_json(b'{"created": 123456789012345678901234567890}') == {"created": 123456789012345678901234567890}
    assert math.isnan(load_json(b'{"x": NaN}')["x"])
    assert load_json('{"a": [1, 2]}') == {"a": [1, 2]}


def test_load_json_still_refuses_invalid_json():
    with pytest.raises(ValueError):
        load_json(b'{"a": ')
