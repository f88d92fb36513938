import json
import socket
from email.utils import formatdate

import pytest
import requests

from ethergate.gateway.providers.failures import (UpstreamFailure, classify_http_error, classify_stream_error,
                                                  network_failure, parse_retry_after, timeout_failure,
                                                  upstream_request_id)
from tests.fakes import formats


def body(provider, status, **overrides):
    return json.dumps(formats.error_body(provider, status, "req-123", **overrides)).encode()


def classify(provider, status, payload=None, headers=None, **overrides):
    payload = body(provider, status, **overrides) if payload is None else payload
    return classify_http_error(provider, status, payload, headers or {})


EXPECTED_KINDS = {
    ("deepseek", 400): "bad_request", ("deepseek", 401): "auth", ("deepseek", 402): "balance",
    ("deepseek", 422): "bad_request", ("deepseek", 429): "rate_limited", ("deepseek", 500): "server",
    ("deepseek", 503): "server",
    ("qwen", 400): "bad_request", ("qwen", 401): "auth", ("qwen", 429): "rate_limited", ("qwen", 500): "server",
    ("qwen", 503): "server",
    ("moonshot", 400): "bad_request", ("moonshot", 401): "auth", ("moonshot", 404): "not_found",
    ("moonshot", 429): "rate_limited", ("moonshot", 500): "server",
}


@pytest.mark.parametrize("provider,status", sorted(EXPECTED_KINDS))
def test_every_provider_error_the_fake_upstream_sends(provider, status):
    failure = classify(provider, status)
    assert failure.kind == EXPECTED_KINDS[(provider, status)]
    assert failure.status == status and failure.provider == provider
    assert failure.message == formats.ERRORS[(provider, status)][0]
    assert failure.retryable == (failure.kind in ("rate_limited", "server"))


@pytest.mark.parametrize("provider", formats.PROVIDERS)
def test_provider_balance_exhaustion_is_balance_and_not_retryable(provider):
    status, message, type_, code = formats.BALANCE_ERRORS[provider]
    failure = classify(provider, status, message=message, type_=type_, code=code)
    assert failure.kind == "balance"
    assert not failure.retryable and failure.operator_fault
    assert failure.retry_after is None
    assert "upstream is unavailable" in failure.public_message


def test_moonshot_quota_429_is_balance_but_its_rpm_429_is_rate_limited():
    quota = classify("moonshot", 429, message="Your account is suspended due to insufficient balance",
                     type_="exceeded_current_quota_error")
    rpm = classify("moonshot", 429, headers={"Retry-After": "1"})
    assert (quota.kind, rpm.kind) == ("balance", "rate_limited")
    assert rpm.retry_after == 1.0


def test_moonshot_engine_overload_is_a_retryable_server_problem():
    failure = classify("moonshot", 429, message="The engine is currently overloaded, please try again later",
                       type_="engine_overloaded_error")
    assert failure.kind == "server" and failure.retryable


def test_qwen_arrearage_in_dashscope_native_shape():
    payload = json.dumps({"code": "Arrearage", "message": "Access denied, please make sure your account is in "
                          "good standing.", "request_id": "dash-1"}).encode()
    failure = classify_http_error("qwen", 400, payload, {})
    assert failure.kind == "balance" and failure.provider_code == "Arrearage"
    assert failure.upstream_request_id == "dash-1"


def test_qwen_free_tier_only_is_balance():
    payload = json.dumps({"error": {"message": "The free tier of the model has been exhausted.",
                                    "type": "AllocationQuota.FreeTierOnly", "code": "AllocationQuota.FreeTierOnly"},
                          "request_id": "r"}).encode()
    assert classify_http_error("qwen", 403, payload, {}).kind == "balance"


def test_auth_is_an_operator_fault_and_hides_the_providers_words():
    failure = classify("deepseek", 401)
    assert failure.kind == "auth" and failure.operator_fault and not failure.retryable
    assert "****" not in failure.public_message and "deepseek" in failure.public_message
    assert classify("moonshot", 403, type_="permission_denied_error").kind == "auth"


def test_unknown_upstream_model():
    deepseek = classify_http_error("deepseek", 400, b'{"error":{"message":"Model Not Exist",'
                                   b'"type":"invalid_request_error","param":null,"code":"invalid_request_error"}}', {})
    qwen = classify("qwen", 404, message="The model `qwen-nope` does not exist or you do not have access to it.",
                    code="model_not_found", type_="invalid_request_error")
    assert deepseek.kind == qwen.kind == "not_found"
    assert deepseek.operator_fault


def test_bad_request_keeps_the_providers_message_for_the_user():
    message = "Range of input length should be [1, 129024]"
    failure = classify("qwen", 400, message=message)
    assert failure.kind == "bad_request" and failure.public_message == message
    assert failure.upstream_request_id == "req-123"   # from the Qwen body
    assert classify("deepseek", 422).kind == "bad_request"
    assert classify("moonshot", 413).kind == "bad_request"


def test_html_from_a_proxy_is_never_dumped():
    html = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
    failure = classify_http_error("qwen", 502, html, {"content-type": "text/html"})
    assert failure.kind == "server" and failure.message == "upstream returned HTTP 502"
    assert classify_http_error("moonshot", 504, b"", {}).message == "upstream returned HTTP 504"
    assert classify_http_error("moonshot", 408, b"", {}).kind == "timeout"


def test_long_messages_are_truncated():
    failure = classify("qwen", 400, message="x" * 5000)
    assert len(failure.message) <= 500


def test_retry_after_seconds_date_and_milliseconds():
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    now = 1_700_000_000.0
    assert parse_retry_after({"Retry-After": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30)
    assert parse_retry_after({"Retry-After": formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "999999"}) == 3600.0
    assert parse_retry_after({}) is None


def test_retry_after_is_kept_on_429_and_5xx_only():
    assert classify("deepseek", 429, headers={"retry-after": "3"}).retry_after == 3.0
    assert classify("qwen", 503, headers={"Retry-After": "2"}).retry_after == 2.0
    assert classify("qwen", 400, headers={"Retry-After": "2"}).retry_after is None


def test_headers_are_matched_case_insensitively_with_requests_headers():
    response = requests.Response()
    response.headers.update({"X-DS-Trace-Id": "trace-9", "Retry-After": "4"})
    failure = classify_http_error("deepseek", 429, body("deepseek", 429), response.headers)
    assert failure.upstream_request_id == "trace-9" and failure.retry_after == 4.0


@pytest.mark.parametrize("provider,headers,expected", [
    ("deepseek", {"x-ds-trace-id": "ds-trace", "x-request-id": "other"}, "ds-trace"),
    ("deepseek", {"x-request-id": "fallback"}, "fallback"),
    ("qwen", {"x-request-id": "q-1"}, "q-1"),
    ("qwen", {"X-DashScope-Request-Id": "q-2"}, "q-2"),
    ("moonshot", {"msh-request-id": "m-1", "x-request-id": "m-2"}, "m-1"),
    ("moonshot", {"x-request-id": "m-2"}, "m-2"),
    ("moonshot", {}, None),
])
def test_upstream_request_id_from_headers(provider, headers, expected):
    assert upstream_request_id(provider, headers) == expected


def test_upstream_request_id_from_the_body():
    assert upstream_request_id("qwen", {}, {"error": {}, "request_id": "in-body"}) == "in-body"
    assert upstream_request_id("moonshot", None, {"error": {"request_id": "nested"}}) == "nested"


def test_stream_error_objects():
    failure = classify_stream_error("qwen", {"error": {"message": "Internal error", "code": "InternalError"},
                                            "request_id": "s-1"})
    assert failure.kind == "server" and failure.message == "Internal error"
    assert failure.upstream_request_id == "s-1"
    overload = classify_stream_error("deepseek", {"error": {"message": "Server Overloaded",
                                                            "code": "server_overloaded"}})
    assert overload.kind == "server"


def test_network_and_timeout_helpers():
    failure = network_failure("qwen", requests.ConnectionError("Connection refused"))
    assert failure == UpstreamFailure("network", None, failure.message, "qwen")
    assert "ConnectionError" in failure.message and failure.retryable
    assert network_failure("deepseek", socket.timeout()).kind == "network"
    timeout = timeout_failure("moonshot", "first byte")
    assert timeout.kind == "timeout" and timeout.retryable and "first byte" in timeout.message
    assert "did not answer in time" in timeout.public_message


def test_positional_construction_used_by_the_router():
    failure = UpstreamFailure("network", 200, "upstream closed the stream before any data", "qwen")
    assert failure.retryable and failure.retry_after is None and failure.upstream_request_id is None
