import json, socket, time
from .e2e import call, live_server, ledger_invariant, say, with_env, log_rows  # noqa

@with_env(ETHERGATE_MAX_BODY_BYTES="65536")
def test_probe(live_server, tenant, fake_upstream):
    k = tenant.plaintext
    out = []
    def show(label, r):
        out.append(f"{label}: {r.status_code} {r.headers.get('Content-Type')} {r.headers.get('X-Request-Id')} {r.text[:300]}")
    show("404 path", call(live_server, k, {}, path="/nope"))
    show("405", call(live_server, k, None, path="/chat/completions", method="GET"))
    show("405 models", call(live_server, k, {}, path="/models", method="POST"))
    show("413", call(live_server, k, data=b'{"a":"' + b"x" * 70000 + b'"}', headers={"Content-Type": "application/json"}))
    show("deep", call(live_server, k, data=b"[" * 100000 + b"]" * 100000))
    show("surrogate", call(live_server, k, data=b'{"model":"deepseek/deepseek-v4-flash","messages":[{"role":"user","content":"\\ud800"}]}'))
    show("deep valid", call(live_server, k, data=b'{"model":"deepseek/deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"metadata":' + b'{"a":' * 900 + b'1' + b'}' * 901))
    show("nan", call(live_server, k, data=b'{"model":"x","messages":[],"temperature":NaN}'))
    show("1e999", call(live_server, k, data=b'{"model":"deepseek/deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"temperature":1e999}'))
    show("bigint", call(live_server, k, data=b'{"model":"x","max_tokens":' + b"9" * 5000 + b'}'))
    show("empty", call(live_server, k, data=b''))
    show("v1 root", call(live_server, k, None, path="", method="GET"))
    show("chunked big", call(live_server, k, data=iter([b'{"a":"' + b"x" * 70000 + b'"}'])))
    show("deep2", call(live_server, k, data=b"[" * 30000 + b"]" * 30000))
    show("deep3", call(live_server, k, data=b'{"model":"deepseek/deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"metadata":' + b'{"a":' * 5000 + b'1' + b'}' * 5001))
    show("chunked ok", call(live_server, k, data=iter([b'{"model":"deepseek/deepseek-v4-flash",', b'"messages":[{"role":"user","content":"hi"}]}'])))
    show("pair", call(live_server, k, data=b'{"model":"deepseek/deepseek-v4-flash","messages":[{"role":"user","content":"\\ud83d\\ude00 \ud83d\ude00"}]}'))
    show("noauth 404", call(live_server, None, {}, path="/nope"))
    show("bad reqid", call(live_server, k, {}, headers={"X-Request-Id": "has space"}))
    show("models", call(live_server, k, None, path="/models/qwen/qwen-plus", method="GET"))
    for l in out: print(l)
    print([ (r.status_code, r.error_code, r.path) for r in log_rows()])
    assert 0
