"""One regression test per hostile input and provider fault that once answered 500, leaked text into a header
or read badly: header safety, JSON depth, the error envelope everywhere, provider codes, the 502 message."""
from __future__ import annotations

import json

import pytest

from ethergate.gateway.json_body import MAX_JSON_DEPTH
from ethergate.observability.request_ids import SANE_REQUEST_ID
from ethergate.gateway.headers import MAX_DROPPED_HEADER, dropped_params_header, escape_header_value

from .e2e import say
from .inprocess import account, check_answer, funded, gateway_app, tracebacks  # noqa: F401

MODEL = "deepseek/deepseek-v4-flash"


@pytest.fixture
def api(gateway_app, funded, tracebacks):
    """POST a chat body (a dict, or raw bytes) with the funded key; every answer must pass the contract checks
    and log no traceback."""
    client = gateway_app.test_client()

    def post(body, request_id: str | None = None, **headers):
        headers = {"Authorization": f"Bearer {funded.plaintext}", "Content-Type": "application/json", **headers}
        if request_id is not None:
            headers["X-Request-Id"] = request_id
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        response = client.post("/v1/chat/completions", data=data, headers=headers)
        seen = check_answer(response, request_id)
        response.close()
        assert tracebacks.take() == []
        seen["headers"] = response.headers
        return seen

    return post


def spent(gateway_app, funded) -> int:
    balance, held, pending, entries = account(gateway_app, funded.workspace_id)
    assert (held, pending) == (0, 0) and balance == entries
    return 1_000_000_000_000 - balance


def holds_taken(gateway_app, funded) -> int:
    from sqlalchemy import func, select

    from ethergate.billing.ledger import holds
    from ethergate.extensions import db
    with gateway_app.app_context(), db.engine.connect() as conn:
        return conn.execute(select(func.count()).where(holds.c.workspace_id == funded.workspace_id)).scalar_one()


def nested(depth: int) -> object:
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


DEEP = "@@deep@@"


def with_deep_array(body: dict, depth: int) -> bytes:
    """The body as JSON text with an array `depth` levels deep where DEEP stands (too deep for json.dumps)."""
    text = json.dumps(body, ensure_ascii=False)
    return text.replace(json.dumps(DEEP), "[" * depth + "]" * depth).encode()


def test_unknown_fields_with_non_latin1_names_are_percent_encoded_in_x_dropped_params(api, fake_upstream):
    seen = api({"model": MODEL, "messages": say("hi"), "ключ": 1, "沜": 2}, request_id="drop-1")
    assert seen["status"] == 200 and seen["request_id"] == "drop-1"
    assert seen["headers"]["X-Dropped-Params"] == "%D0%BA%D0%BB%D1%8E%D1%87,%E6%B2%9C"
    assert "ключ" not in fake_upstream.requests()[-1]["body"]


def test_a_field_name_with_cr_lf_cannot_inject_a_header_and_the_answer_is_billed_once(api, gateway_app, funded):
    seen = api({"model": MODEL, "messages": say("hi"), "a\r\nX-Injected: yes": 1})
    assert seen["status"] == 200 and "X-Injected" not in seen["headers"]
    assert seen["headers"]["X-Dropped-Params"] == "a%0D%0AX-Injected%3A%20yes"
    assert seen["json"]["choices"][0]["message"]["content"]
    assert spent(gateway_app, funded) > 0


def test_x_dropped_params_stops_at_whole_names_within_its_size_limit():
    names = [f"unknown_{index:04d}" for index in range(200)]
    header = dropped_params_header(names)
    assert len(header) <= MAX_DROPPED_HEADER and header.split(",") == names[:len(header.split(","))]
    assert dropped_params_header(["x" * 2000]) is None
    assert escape_header_value("plain ASCII; kept") == "plain ASCII; kept"
    assert escape_header_value("a\nb%") == "a%0Ab%25"


@pytest.mark.parametrize("sent", ["ключ", "a b", "x" * 129, "id\x7f", "é"])
def test_a_hostile_x_request_id_is_replaced_never_echoed(api, sent):
    seen = api({"model": MODEL, "messages": say("hi")}, request_id=sent.encode().decode("latin-1"))
    assert seen["request_id"].startswith("req_")


def test_a_request_id_with_a_trailing_newline_is_not_sane():
    # Test clients refuse to send one, but a WSGI server may pass it on; "$" used to let it through.
    assert SANE_REQUEST_ID.match("req-1") and not SANE_REQUEST_ID.match("req-1\n")


@pytest.mark.parametrize("where, param", [
    (lambda deep: {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"p": deep}}}]},
     "tools[0].function.parameters.p"),
    (lambda deep: {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": deep}}},
     "response_format.json_schema.schema"),
    (lambda deep: {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "extra": deep}]}]},
     "messages[0].content[0].extra"),
    (lambda deep: {"messages": [{"role": "user", "content": "hi", "unknown": deep}]}, "messages[0].unknown"),
])
def test_deep_nesting_is_a_400_naming_the_field_before_anything_is_held_or_sent(
        api, gateway_app, funded, fake_upstream, where, param):
    seen = api(with_deep_array({"model": MODEL, "messages": say("hi"), **where(DEEP)}, 200))
    assert seen["status"] == 400 and seen["error"]["code"] == "invalid_request_error"
    assert seen["error"]["param"].startswith(param + "[0]")
    assert f"nested more than {MAX_JSON_DEPTH} levels" in seen["error"]["message"]
    # As deep as the report found (~960 levels), where the parser itself may give up: still the same 400.
    deeper = api(with_deep_array({"model": MODEL, "messages": say("hi"), **where(DEEP)}, 960))
    assert (deeper["status"], deeper["error"]["code"]) == (400, "invalid_request_error")
    assert fake_upstream.requests() == [] and spent(gateway_app, funded) == 0
    assert holds_taken(gateway_app, funded) == 0


def test_nesting_too_deep_for_the_json_parser_is_a_400_too(api, fake_upstream):
    raw = b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "x": %s}' % (
        MODEL.encode(), b"[" * 20_000 + b"]" * 20_000)
    seen = api(raw)
    assert (seen["status"], seen["error"]["code"], seen["error"]["param"]) == (400, "invalid_request_error", None)
    assert fake_upstream.requests() == []


def test_nesting_at_the_limit_is_accepted_and_one_level_more_is_not(api):
    def body(levels):  # the body, tools, [0], function, parameters and properties are six levels
        parameters = {"type": "object", "properties": {"p": nested(levels)}}
        return {"model": MODEL, "messages": say("hi"),
                "tools": [{"type": "function", "function": {"name": "f", "parameters": parameters}}]}
    assert api(body(MAX_JSON_DEPTH - 6))["status"] == 200
    assert api(body(MAX_JSON_DEPTH - 5))["status"] == 400


def test_a_number_too_long_to_read_is_invalid_json(api, fake_upstream):
    raw = b'{"model": "%s", "messages": [], "seed": 1%s}' % (MODEL.encode(), b"0" * 5000)
    seen = api(raw)
    assert (seen["status"], seen["error"]["code"]) == (400, "invalid_json")
    assert "number" in seen["error"]["message"] and "sys." not in seen["error"]["message"]


def test_stream_error_event_carries_the_whole_envelope(api, gateway_app, funded):
    seen = api({"model": MODEL, "stream": True, "messages": say("hi", chunks=6, drop_after=3)}, request_id="cut-1")
    error = seen["stream_error"]
    assert error is not None and list(error)[:4] == ["message", "type", "param", "code"]
    assert (error["param"], error["code"], error["type"]) == (None, "provider_request_failed", "api_error")
    assert error["provider"] == "deepseek" and error["request_id"] == "cut-1"


def test_a_providers_400_keeps_its_message_under_our_documented_code(api, gateway_app, funded):
    problem = "Range of input length should be [1, 30720]"
    seen = api({"model": "qwen/qwen-plus", "messages": say("hi", status=400, error_message=problem,
                                                           error_code="400")})
    error = seen["error"]
    assert (seen["status"], error["code"], error["type"]) == (400, "invalid_request_error", "invalid_request_error")
    assert problem in error["message"] and error["provider"] == "qwen"
    assert spent(gateway_app, funded) == 0


def test_the_502_message_names_each_failed_route_once_without_exception_names(api, fake_upstream):
    dropped = api({"model": "qwen/qwen-plus", "messages": say("hi", drop_after=0)})["error"]
    assert dropped["code"] == "provider_request_failed"
    assert "could not be reached: qwen/qwen-plus, qwen/qwen-plus-latest" in dropped["message"], dropped
    assert dropped["message"].count("qwen/qwen-plus-latest") == 1 and "Error" not in dropped["message"]

    fake_upstream.add_behavior("deepseek", {"status": 503})
    failed = api({"model": "deepseek/deepseek-v4-flash", "messages": say("hi")})["error"]
    routes = failed["message"].split("unavailable right now: ", 1)[1].split(")")[0].split(", ")
    assert len(routes) == len(set(routes)) >= 1 and all(route.startswith("deepseek/") for route in routes)
    assert failed["message"].count("unavailable") == 1, failed


@pytest.mark.parametrize("path", ["/v1/models//0", "/v1//models", "/v1/models/%00", "/v1/models/a%00b"])
def test_doubled_slashes_and_nul_in_a_path_get_a_json_404_and_a_log_row(gateway_app, funded, tracebacks, path):
    """Found by the property test: a doubled slash was an HTML redirect, a NUL broke the log write on PostgreSQL."""
    from ethergate.extensions import db
    from ethergate.usage.models import RequestLog

    client = gateway_app.test_client()
    response = client.get(path, headers={"Authorization": f"Bearer {funded.plaintext}", "X-Request-Id": "req_path"})
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.get_json()["error"]["type"] == "invalid_request_error"
    assert tracebacks.take() == []
    with gateway_app.app_context():
        rows = db.session.scalars(db.select(RequestLog).where(RequestLog.request_id == "req_path")).all()
        assert len(rows) == 1 and "\x00" not in (rows[0].model_id or "") + (rows[0].error_message or "")
