"""Refused requests over real HTTP: the OpenAI envelope, the SDK's exception, one request-log row each."""
import json
import random
import re
import time
from datetime import timedelta

import openai
import pytest

from ethergate.extensions import db
from ethergate.timeutil import utcnow

from .e2e import (assert_envelope, call, ledger_invariant, live_server, log_row, log_rows, say,  # noqa: F401
                  tenant_ids, with_env)

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

DOCS_401 = "The Authorization bearer token is missing, revoked or unknown."
SMALL_BODIES = with_env(ETHERGATE_KEY_CACHE_SECONDS="0.1", ETHERGATE_MAX_BODY_BYTES="65536")
MODEL = "deepseek/deepseek-v4-flash"
HELLO = say("hi")


def sdk(server, key, **options):
    return openai.OpenAI(api_key=key, base_url=server.base_url, max_retries=0, timeout=20, **options)


def set_key(issued, **values) -> None:
    db.session.rollback()
    for name, value in values.items():
        setattr(issued.key, name, value)
    db.session.commit()


@SMALL_BODIES
def test_every_kind_of_bad_key_is_401_in_the_envelope(live_server, live_factories, tenant, fake_upstream):
    revoked = live_factories.key(tenant.workspace, name="to revoke")
    expired = live_factories.key(tenant.workspace, name="expired", expires_at=utcnow() - timedelta(seconds=1))
    assert call(live_server, revoked.plaintext, {"model": MODEL, "messages": HELLO}).status_code == 200
    set_key(revoked, revoked_at=utcnow())
    time.sleep(0.2)  # the auth cache keeps a key for ETHERGATE_KEY_CACHE_SECONDS
    headers = {
        "missing": {},
        "empty bearer": {"Authorization": "Bearer "},
        "wrong scheme": {"Authorization": f"Basic {tenant.plaintext}"},
        "not a cr_ key": {"Authorization": "Bearer sk-live-abcdef"},
        "truncated": {"Authorization": f"Bearer {tenant.plaintext[:-1]}"},
        "unknown": {"Authorization": "Bearer cr_" + "A" * 40},
        "revoked": {"Authorization": f"Bearer {revoked.plaintext}"},
        "expired": {"Authorization": f"Bearer {expired.plaintext}"},
    }
    for number, (case, sent) in enumerate(headers.items()):
        request_id = f"auth-{number}"
        response = call(live_server, None, {"model": MODEL, "messages": HELLO},
                        headers={**sent, "X-Request-Id": request_id})
        error = assert_envelope(response, 401, "invalid_api_key")
        assert error["type"] == "authentication_error" and error["message"] == DOCS_401, case
        assert response.headers["X-Request-Id"] == request_id
        row = log_row(request_id)
        assert (row.status_code, row.error_code) == (401, "invalid_api_key"), case

    for bad in ("cr_" + "A" * 40, revoked.plaintext, expired.plaintext):
        with pytest.raises(openai.AuthenticationError) as caught:
            sdk(live_server, bad).chat.completions.create(model=MODEL, messages=HELLO)
        assert caught.value.code == "invalid_api_key" and caught.value.request_id.startswith("req_")
        assert caught.value.body["request_id"] == caught.value.request_id
    assert fake_upstream.requests()[-1]["authorization"] == "Bearer sk-test-deepseek"
    assert len(fake_upstream.requests()) == 1  # only the revoked key's request before revocation went out


@SMALL_BODIES
def test_bad_input_maps_to_400_404_413(live_server, client, tenant, fake_upstream):
    key = tenant.plaintext
    cases = [
        ({"model": MODEL, "messages": HELLO, "temperature": "hot"}, 400, "invalid_request_error", "temperature"),
        ({"model": MODEL}, 400, "invalid_request_error", "messages"),
        ({"messages": HELLO}, 400, "invalid_request_error", "model"),
        ({"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]}, 400, "invalid_request_error",
         "messages[0].role"),
        ({"model": MODEL, "messages": HELLO, "max_tokens": 0}, 400, "invalid_request_error", "max_tokens"),
        ({"model": MODEL, "messages": HELLO, "stream_options": {"include_usage": True}}, 400,
         "invalid_request_error", "stream_options"),
        ({"model": "acme/no-such-model", "messages": HELLO}, 404, "model_not_found", "model"),
    ]
    for body, status, code, param in cases:
        assert_envelope(call(live_server, key, body), status, code, param=param)
    raw_cases = [
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_request_error"),
        (b'"a string"', 400, "invalid_request_error"),
        (b'{"model": "x", "messages": [], "temperature": NaN}', 400, "invalid_json"),
        (b'{"a": "' + b"x" * 70_000 + b'"}', 413, "request_too_large"),
    ]
    for data, status, code in raw_cases:
        assert_envelope(call(live_server, key, data=data, headers={"Content-Type": "application/json"}), status, code)
    # A chunked upload has no Content-Length, so the limit must be enforced while reading.
    chunked = call(live_server, key, data=iter([b'{"a": "', b"x" * 70_000, b'"}']))
    assert_envelope(chunked, 413, "request_too_large")

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO, temperature="hot")
    assert caught.value.param == "temperature" and caught.value.request_id
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="acme/no-such-model", messages=HELLO)
    assert caught.value.code == "model_not_found" and caught.value.request_id
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=MODEL, messages=say("x" * 70_000))
    assert caught.value.status_code == 413 and caught.value.code == "request_too_large" and caught.value.request_id
    assert fake_upstream.requests() == []


def test_zero_credits_is_402_with_the_documented_body(live_server, live_factories, live_app):
    broke = live_factories.tenant(credits=None)
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(live_server, broke.plaintext).chat.completions.create(model=MODEL, messages=HELLO)
    error = caught.value
    assert error.status_code == 402 and error.code == "insufficient_credits"
    assert error.type == "insufficient_quota" and error.request_id
    assert {"message", "type", "code"} <= set(error.body) and "balance" in error.body["message"]
    row = log_row(error.request_id)
    assert (row.status_code, row.error_code, row.workspace_id) == (402, "insufficient_credits", tenant_ids(broke)[0])


def test_402_suggests_a_max_tokens_that_fits(live_server, live_factories):
    short = live_factories.tenant(credits="0.05")
    client = sdk(live_server, short.plaintext)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=393216)
    message = caught.value.body["message"]
    assert caught.value.status_code == 402 and "balance is" in message
    fits = int(re.search(r"Set max_tokens to (\d+) or less", message).group(1))
    answer = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=fits)
    assert answer.choices[0].message.content


def test_key_rate_limit_is_429_with_retry_after(live_server, live_factories):
    limited = live_factories.tenant(rpm_limit=2)
    for _ in range(2):
        assert call(live_server, limited.plaintext, {"model": MODEL, "messages": HELLO}).status_code == 200
    response = call(live_server, limited.plaintext, {"model": MODEL, "messages": HELLO})
    assert_envelope(response, 429, "rate_limit_exceeded")
    assert int(response.headers["Retry-After"]) >= 1
    assert (response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]) == ("2", "0")
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(live_server, limited.plaintext).chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.code == "rate_limit_exceeded" and caught.value.request_id
    assert [r.status_code for r in log_rows(api_key_id=tenant_ids(limited)[1])] == [200, 200, 429, 429]


def test_disallowed_model_is_403(live_server, live_factories):
    narrow = live_factories.tenant(allowed_models=["qwen/qwen-plus"])
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk(live_server, narrow.plaintext).chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.code == "model_not_allowed" and caught.value.request_id


@SMALL_BODIES
def test_rejected_requests_get_headers_and_exactly_one_log_row(live_server, tenant):
    key = tenant.plaintext
    requests_made = [
        ("ok", key, {"model": MODEL, "messages": HELLO}, "POST", "/chat/completions", 200),
        ("bad-field", key, {"model": MODEL, "messages": HELLO, "top_p": 7}, "POST", "/chat/completions", 400),
        ("no-key", None, {"model": MODEL, "messages": HELLO}, "POST", "/chat/completions", 401),
        ("no-model", key, {"model": "x/y", "messages": HELLO}, "POST", "/chat/completions", 404),
        ("too-big", key, {"pad": "x" * 70_000}, "POST", "/chat/completions", 413),
        ("bad-path", key, None, "GET", "/completions/legacy", 404),
        ("bad-method", key, None, "GET", "/chat/completions", 405),
        ("models", key, None, "GET", "/models", 200),
        ("model", key, None, "GET", "/models/qwen/qwen-plus", 200),
        ("model-404", key, None, "GET", "/models/acme/nothing", 404),
    ]
    for request_id, sent_key, body, method, path, status in requests_made:
        response = call(live_server, sent_key, body, method=method, path=path, headers={"X-Request-Id": request_id})
        assert response.status_code == status, (request_id, response.text[:300])
        assert response.headers["X-Request-Id"] == request_id
        assert response.headers["Content-Type"].startswith("application/json")
        if status >= 400:
            assert response.json()["error"]["request_id"] == request_id
        if sent_key and status not in (404, 405) or request_id == "model-404":
            assert response.headers["X-RateLimit-Limit"] == "1000", request_id
        assert ("X-EtherGate-Provider" in response.headers) == (request_id == "ok"), request_id
        row = log_row(request_id)
        assert (row.status_code, row.path) == (status, "/v1" + path)
        assert (row.error_code is None) == (status == 200), request_id
    insane = call(live_server, key, {"model": MODEL, "messages": HELLO}, headers={"X-Request-Id": "a b<c>" * 30})
    assert re.fullmatch(r"req_[0-9a-f]{32}", insane.headers["X-Request-Id"])


def _fuzz_bodies(rng: random.Random) -> list[bytes]:
    """Bodies that are each wrong in some way: framing, encoding, JSON shape or a field's type or value."""
    valid = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    junk = [None, True, 3, -1.5, "x", [], {}, [None], {"a": 1}, 10 ** 30]

    def mutate():
        body = json.loads(json.dumps(valid))
        field = rng.choice(["model", "messages", "temperature", "top_p", "n", "max_tokens", "stop", "tools",
                            "tool_choice", "response_format", "stream", "logit_bias", "messages[0]",
                            "messages[0].role", "messages[0].content"])
        value = rng.choice([v for v in junk if v is not None] + ["", "🙂" * 3, 1e308])
        if field.startswith("messages[0]"):
            part = field.partition(".")[2]
            if part:
                body["messages"][0][part] = value if part == "role" or not isinstance(value, str) else 5
            else:
                body["messages"][0] = value if not isinstance(value, dict) else {"role": 5}
        elif field in ("model", "messages"):
            body[field] = value if not isinstance(value, str) or field == "messages" else 7
        else:
            body[field] = value if field != "stream" or not isinstance(value, bool) else "yes"
            if field in ("temperature", "top_p", "n", "max_tokens") and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                body[field] = -abs(value) - 3
        return json.dumps(body, ensure_ascii=False).encode()

    makers = [
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
        lambda: json.dumps(valid).encode()[: rng.randrange(1, 60)],
        lambda: json.dumps(rng.choice(junk[:-2] + [[valid]])).encode(),
        lambda: b"[" * rng.randrange(2000, 20000) + b"]" * 10,
        lambda: b'{"model": "deepseek/deepseek-v4-flash", "messages": [{"role": "user", "content": "\\udc00"}]}',
        lambda: b'{"model": "\xff\xfe", "messages": []}',
        lambda: b'{"model": "a", "messages": [], "seed": ' + b"9" * 5000 + b"}",
        lambda: b'{"model": "a", "messages": [], "temperature": Infinity}',
        lambda: "model=deepseek&messages=hi".encode(),
        mutate, mutate, mutate,
    ]
    return [rng.choice(makers)() for _ in range(50)]


def test_fuzzed_bodies_never_get_html_or_a_500(live_server, tenant, fake_upstream):
    rng = random.Random(20240611)
    content_types = ["application/json", "text/plain", "application/x-www-form-urlencoded", None]
    for number, data in enumerate(_fuzz_bodies(rng)):
        request_id = f"fuzz-{number}"
        content_type = rng.choice(content_types)
        headers = {"X-Request-Id": request_id, **({"Content-Type": content_type} if content_type else {})}
        response = call(live_server, tenant.plaintext, data=data, headers=headers)
        assert response.status_code in (400, 404, 413), (data[:120], response.status_code, response.text[:300])
        assert_envelope(response, response.status_code, response.json()["error"]["code"])
        assert log_row(request_id).status_code == response.status_code
    assert fake_upstream.requests() == []
