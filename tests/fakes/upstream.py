"""Fake upstream LLM provider for EtherGate tests and offline development.

Speaks the OpenAI-compatible chat API the way DeepSeek (base /deepseek), Qwen in DashScope
compatible mode (base /qwen/compatible-mode/v1) and Moonshot/Kimi (base /moonshot/v1) do,
over real HTTP/1.1: keep-alive, Content-Length JSON bodies, chunked SSE streams.

    python tests/fakes/upstream.py --host 127.0.0.1 --port 9100    # --port 0 picks a free port

Behaviour per request comes from a `[[fake:{...}]]` directive in the last user message and/or
rules posted to `POST /_fake/behaviors`; every provider request is recorded and can be read
back from `GET /_fake/requests`. From pytest use `FakeUpstream.start()`.
"""

import argparse
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http import HTTPStatus

if __package__:
    from . import formats
else:  # started as a script, so tests/fakes itself is on sys.path
    import formats

BEHAVIOR_KEYS = frozenset({
    "text", "reasoning", "tool_calls", "chunks", "gap_ms", "delay_ms", "keepalive", "status",
    "error_message", "error_code", "error_type", "retry_after", "balance_exhausted", "hang",
    "drop_after", "usage", "no_usage", "call_tool",
})
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")
DIRECTIVE = "[[fake:"
MAX_HEAD = 64 * 1024
MAX_RECORDS = 100_000
JSON_TYPE = ("Content-Type", "application/json")


class BadRequest(Exception):
    pass


def to_json(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def message_text(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def check_behavior(behavior):
    if not isinstance(behavior, dict):
        raise ValueError("behavior must be a JSON object")
    unknown = set(behavior) - BEHAVIOR_KEYS
    if unknown:
        raise ValueError("unknown behavior keys: " + ", ".join(sorted(unknown)))
    if not all(isinstance(call, dict) and call.get("name") for call in behavior.get("tool_calls") or []):
        raise ValueError("every tool_calls entry needs a name")
    if behavior.get("chunks") is not None and not (isinstance(behavior["chunks"], int) and behavior["chunks"] > 0):
        raise ValueError("chunks must be a positive integer")
    return behavior


def parse_directive(messages):
    """The [[fake:{...}]] object in the last user message, or None."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    text = message_text(users[-1].get("content")) if users else ""
    start = text.find(DIRECTIVE)
    if start < 0:
        return None
    try:
        directive, _ = json.JSONDecoder().raw_decode(text, start + len(DIRECTIVE))
    except ValueError as exc:
        raise ValueError("bad [[fake:...]] directive: %s" % exc) from None
    return check_behavior(directive)


class Request:
    __slots__ = ("method", "path", "query", "headers", "body", "keep_alive")

    def __init__(self, method, target, version, headers, body):
        self.method = method.upper()
        self.path, _, query = target.partition("?")
        self.query = urllib.parse.parse_qs(query)
        self.headers = headers
        self.body = body
        connection = headers.get("connection", "").lower()
        self.keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection


class Connection:
    """One client socket: a small HTTP/1.1 reader plus raw response writers."""

    def __init__(self, sock, address):
        self.sock = sock
        self.peer = "%s:%s" % tuple(address[:2])
        self.buf = b""
        self.gone = None
        self.watcher = None

    # -- reading ---------------------------------------------------------------
    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _take(self, size):
        while len(self.buf) < size:
            self._fill()
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def _line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("line too long")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _chunked_body(self):
        parts = []
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                while self._line():
                    pass
                return b"".join(parts)
            parts.append(self._take(size + 2)[:-2])

    def read_request(self):
        """Next request on this connection, or None once the client has closed it."""
        try:
            while b"\r\n\r\n" not in self.buf:
                if len(self.buf) > MAX_HEAD:
                    raise BadRequest("request head too large")
                self._fill()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                raise BadRequest("bad request line")
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    raise BadRequest("bad header line")
                name, value = name.strip().lower(), value.strip()
                headers[name] = headers[name] + ", " + value if name in headers else value
            if headers.get("expect", "").lower() == "100-continue":
                self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if "chunked" in headers.get("transfer-encoding", "").lower():
                body = self._chunked_body()
            else:
                body = self._take(int(headers.get("content-length") or 0))
        except (EOFError, OSError):
            return None
        except ValueError:
            raise BadRequest("bad body framing") from None
        return Request(parts[0], parts[1], parts[2], headers, body)

    # -- writing ---------------------------------------------------------------
    def _write(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    @staticmethod
    def _head(status, headers, keep_alive):
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = ["HTTP/1.1 %d %s" % (status, phrase)]
        lines += ["%s: %s" % header for header in headers]
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, status, headers, body, keep_alive):
        headers = list(headers) + [("Content-Length", len(body))]
        return self._write(self._head(status, headers, keep_alive) + body)

    def start_stream(self, headers, keep_alive):
        return self._write(self._head(200, list(headers) + [("Transfer-Encoding", "chunked")], keep_alive))

    def send_chunk(self, data):
        return self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self):
        return self._write(b"0\r\n\r\n")

    # -- client hang-up detection ----------------------------------------------
    def watch(self):
        """Start noticing a client hang-up while we stay silent (delays, gaps)."""
        if self.watcher is None or self.watcher.dead:
            import gevent
            from gevent.event import Event

            self.gone = self.gone or Event()
            self.watcher = gevent.spawn(self._watch)

    def _watch(self):
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if data:
            self.buf += data  # a pipelined request: keep it for read_request
        else:
            self.gone.set()

    def unwatch(self):
        if self.watcher is not None:
            self.watcher.kill()
            self.watcher = None

    def pause(self, seconds):
        """Sleep for seconds; True if the client hung up before or meanwhile."""
        self.watch()
        return self.gone.wait(seconds) if seconds > 0 else self.gone.is_set()

    def wait_until_closed(self):
        self.unwatch()
        while True:
            try:
                if not self.sock.recv(65536):
                    return
            except OSError:
                return

    def drop(self):
        self.unwatch()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class App:
    """Request routing, behaviour rules and the request log."""

    def __init__(self):
        self.records = []
        self.seq = 0
        self.rules = []
        self.rule_seq = 0

    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, address)
        try:
            while True:
                try:
                    req = conn.read_request()
                except BadRequest as exc:
                    conn.send(400, [JSON_TYPE], to_json({"error": {"message": str(exc), "type": "bad_request"}}), False)
                    return
                if req is None:
                    return
                try:
                    keep = self.dispatch(conn, req)
                except Exception:
                    traceback.print_exc()
                    conn.send(500, [JSON_TYPE], to_json({"error": {"message": "fake upstream crashed",
                                                                   "type": "server_error"}}), False)
                    return
                conn.unwatch()
                if not (keep and req.keep_alive):
                    return
        finally:
            conn.unwatch()
            sock.close()

    def reply(self, conn, req, status, obj, headers=()):
        return conn.send(status, [JSON_TYPE, *headers], to_json(obj), req.keep_alive)

    def dispatch(self, conn, req):
        path = req.path.rstrip("/") or "/"
        if path.startswith("/_fake/"):
            return self.control(conn, req, path)
        provider, endpoint = formats.ROUTES.get(path, (None, None))
        first = path.split("/")[1]
        if provider is None and first not in formats.PROVIDERS:
            return self.reply(conn, req, 404, {"error": {"message": "no such path: " + req.path,
                                                         "type": "not_found_error"}})
        provider = provider or first
        record = self.record(conn, req, provider)
        if endpoint is None:
            return self.error(conn, req, record, provider, 404, message="no such path: " + req.path)
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self.error(conn, req, record, provider, 401, message=formats.MISSING_KEY_MESSAGES[provider])
        if req.method != ("POST" if endpoint == "chat" else "GET"):
            return self.error(conn, req, record, provider, 405, message="method not allowed")
        if endpoint == "models":
            record["status"] = 200
            data = [{"id": name, "object": "model", "created": 1700000000, "owned_by": owner}
                    for name, owner in formats.MODELS[provider]]
            return self.reply(conn, req, 200, {"object": "list", "data": data})
        return self.chat(conn, req, record, provider)

    # -- provider side ---------------------------------------------------------
    def record(self, conn, req, provider):
        try:
            body = json.loads(req.body) if req.body else None
        except ValueError:
            body = None
        self.seq += 1
        record = {
            "seq": self.seq, "provider": provider, "path": req.path, "method": req.method,
            "authorization": req.headers.get("authorization"), "headers": req.headers,
            "model": body.get("model") if isinstance(body, dict) else None, "body": body,
            "stream": isinstance(body, dict) and body.get("stream") is True,
            "received_at": time.time(), "closed_by_client": False, "peer": conn.peer,
            "status": None, "response_id": None,
        }
        self.records.append(record)
        if len(self.records) > MAX_RECORDS:
            del self.records[: len(self.records) - MAX_RECORDS]
        return record

    def take_rule(self, provider, model):
        for rule in self.rules:
            if rule["provider"] in (provider, "*") and rule["model"] in (None, model):
                if rule["times"] is not None:
                    rule["times"] -= 1
                    if rule["times"] <= 0:
                        self.rules.remove(rule)
                return dict(rule["behavior"])
        return {}

    @staticmethod
    def id_headers(provider, request_id):
        headers = [("x-request-id", request_id)]
        if provider == "moonshot":
            headers.append(("msh-request-id", request_id))
        return headers

    def error(self, conn, req, record, provider, status, message=None, type_=None, code=None,
              behavior=None, retry_after=None):
        behavior = behavior or {}
        _, request_id = formats.new_ids(provider)
        body = formats.error_body(provider, status, request_id,
                                  behavior.get("error_message") or message,
                                  behavior.get("error_type") or type_,
                                  behavior.get("error_code") or code)
        headers = self.id_headers(provider, request_id)
        if retry_after is not None:
            headers.append(("Retry-After", retry_after))
        record.update(status=status, response_id=request_id)
        if not self.reply(conn, req, status, body, headers):
            return self.client_gone(record)
        return True

    @staticmethod
    def client_gone(record):
        record["closed_by_client"] = True
        return False

    def chat(self, conn, req, record, provider):
        body = record["body"]
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return self.error(conn, req, record, provider, 400)
        try:
            behavior = self.take_rule(provider, body["model"])
            behavior.update(parse_directive(body["messages"]) or {})
        except ValueError as exc:
            return self.error(conn, req, record, provider, 400, "fake upstream: %s" % exc)
        record["behavior"] = behavior
        problem = formats.request_problem(provider, body)
        if problem is not None:
            return self.error(conn, req, record, provider, problem[0], problem[1])
        if behavior.get("hang"):
            conn.wait_until_closed()
            return self.client_gone(record)
        delay = (behavior.get("delay_ms") or 0) / 1000
        if delay and conn.pause(delay):
            return self.client_gone(record)
        if behavior.get("drop_after") is not None and not record["stream"]:
            conn.drop()
            return False
        if behavior.get("balance_exhausted"):
            status, message, type_, code = formats.BALANCE_ERRORS[provider]
            return self.error(conn, req, record, provider, status, message, type_, code,
                              behavior=behavior, retry_after=behavior.get("retry_after"))
        status = behavior.get("status") or 200
        if status >= 400:
            return self.error(conn, req, record, provider, status, behavior=behavior,
                              retry_after=behavior.get("retry_after", 1 if status == 429 else None))
        answer = self.answer(provider, body, behavior)
        record.update(status=200, response_id=answer.id)
        if record["stream"]:
            return self.stream(conn, req, record, answer, behavior)
        if not self.reply(conn, req, 200, answer.completion(), self.id_headers(provider, answer.id)):
            return self.client_gone(record)
        return True

    def answer(self, provider, body, behavior):
        model = body["model"]
        prompt = sum(formats.words(message_text(m.get("content"))) + 4 for m in body["messages"] if isinstance(m, dict))
        limit = next((body[k] for k in ("max_completion_tokens", "max_tokens") if body.get(k) is not None), None)
        tool_calls = []
        for call in (behavior.get("tool_calls") or []) + self.offered_call(body, behavior.get("call_tool")):
            arguments = call.get("arguments", "{}")
            tool_calls.append({"id": "call_" + uuid.uuid4().hex[:24], "name": call["name"],
                               "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)})
        content, pieces, finish = None, [], "tool_calls"
        completion = sum(formats.words(call["arguments"]) + 1 for call in tool_calls)
        if not tool_calls:
            text = behavior.get("text", "Hello from fake %s %s." % (provider, model))
            pieces, finish = formats.word_pieces(text), "stop"
            if limit is not None and len(pieces) > limit:
                pieces, finish = pieces[:limit], "length"
                if pieces:
                    pieces[-1] = pieces[-1].rstrip()
                text = "".join(pieces)
            content, completion = text, len(pieces)
            if behavior.get("chunks"):
                pieces = formats.even_pieces(text, int(behavior["chunks"]))
        reasoning = behavior.get("reasoning")
        counts = {"prompt_tokens": prompt, "completion_tokens": completion + formats.words(reasoning),
                  "cached_tokens": 0, "reasoning_tokens": formats.words(reasoning)}
        overrides = behavior.get("usage") or {}
        counts.update((k, int(overrides[k])) for k in USAGE_KEYS if k in overrides)
        usage = None
        if not behavior.get("no_usage"):
            show_reasoning = reasoning is not None or "reasoning_tokens" in overrides
            usage = formats.usage_payload(provider, counts["prompt_tokens"], counts["completion_tokens"],
                                          counts["cached_tokens"], counts["reasoning_tokens"] if show_reasoning else None)
        return formats.Answer(provider, model, int(time.time()), content, reasoning, tool_calls, finish, usage,
                              pieces, formats.word_pieces(reasoning) if reasoning else [])

    @staticmethod
    def offered_call(body, wanted):
        """call_tool {"names": [...], "arguments": {...}}: a call to the first of `names` the client offered
        (else its first tool), for agents whose tool names the test does not hard-code."""
        if not isinstance(wanted, dict):
            return []
        offered = [t.get("function", {}).get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        offered = [name for name in offered if name]
        if not offered:
            return []
        name = next((n for n in wanted.get("names") or [] if n in offered), offered[0])
        return [{"name": name, "arguments": wanted.get("arguments") or {}}]

    def stream(self, conn, req, record, answer, behavior):
        include_usage = bool((record["body"].get("stream_options") or {}).get("include_usage"))
        gap = (behavior.get("gap_ms") or 0) / 1000
        drop_after = behavior.get("drop_after")
        headers = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"),
                   *self.id_headers(answer.provider, answer.id)]
        conn.watch()
        if not conn.start_stream(headers, req.keep_alive):
            return self.client_gone(record)
        sent = 0
        for number, (kind, chunk) in enumerate(answer.chunks(include_usage)):
            if behavior.get("keepalive") and not conn.send_chunk(b": keep-alive\n\n"):
                return self.client_gone(record)
            if conn.pause(gap if number else 0):
                return self.client_gone(record)
            if drop_after is not None and kind != "role" and sent >= drop_after:
                conn.drop()
                return False
            if not conn.send_chunk(b"data: " + to_json(chunk) + b"\n\n"):
                return self.client_gone(record)
            sent += kind == "payload"
        if conn.send_chunk(b"data: [DONE]\n\n") and conn.end_stream():
            return True
        return self.client_gone(record)

    # -- control API -----------------------------------------------------------
    def control(self, conn, req, path):
        route = (req.method, path)
        if route == ("GET", "/_fake/health"):
            return self.reply(conn, req, 200, {"ok": True})
        if route == ("GET", "/_fake/requests"):
            since = int((req.query.get("since") or ["0"])[0] or 0)
            return self.reply(conn, req, 200, {"data": [r for r in self.records if r["seq"] > since]})
        if route == ("DELETE", "/_fake/requests"):
            self.records.clear()
            self.rules.clear()
            return self.reply(conn, req, 200, {"ok": True})
        if route == ("GET", "/_fake/behaviors"):
            return self.reply(conn, req, 200, {"data": self.rules})
        if route == ("DELETE", "/_fake/behaviors"):
            self.rules.clear()
            return self.reply(conn, req, 200, {"ok": True})
        if route == ("POST", "/_fake/behaviors"):
            try:
                spec = json.loads(req.body or b"null")
                if not isinstance(spec, dict) or spec.get("provider") not in (*formats.PROVIDERS, "*"):
                    raise ValueError("provider must be one of %s or *" % ", ".join(formats.PROVIDERS))
                times = spec.get("times")
                if times is not None and (not isinstance(times, int) or times < 1):
                    raise ValueError("times must be a positive integer or null")
                behavior = check_behavior(spec.get("behavior"))
            except ValueError as exc:
                return self.reply(conn, req, 400, {"error": {"message": str(exc), "type": "bad_request"}})
            self.rule_seq += 1
            rule = {"id": self.rule_seq, "provider": spec["provider"], "model": spec.get("model"),
                    "behavior": behavior, "times": times}
            self.rules.append(rule)
            return self.reply(conn, req, 200, {"ok": True, "rule": rule})
        return self.reply(conn, req, 404, {"error": {"message": "no such control route: %s %s" % route,
                                                     "type": "not_found_error"}})


def _raise_fd_limit():
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        if soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake DeepSeek/Qwen/Moonshot upstream for EtherGate tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port, shown in the startup line")
    args = parser.parse_args(argv)

    import gevent
    from gevent.event import Event
    from gevent.server import StreamServer

    _raise_fd_limit()
    server = StreamServer((args.host, args.port), App().handle, backlog=4096)
    server.start()
    print("fake-upstream listening on http://%s:%d" % (args.host, server.address[1]), flush=True)
    stop = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop.set)
    stop.wait()
    server.close()
    return 0


class FakeUpstream:
    """The fake upstream running as a child process, driven over its control API."""

    def __init__(self, process, url):
        self.process = process
        self.url = url
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @classmethod
    def start(cls, host="127.0.0.1", port=0, timeout=15.0):
        script = os.path.abspath(__file__)
        process = subprocess.Popen([sys.executable, script, "--host", host, "--port", str(port)],
                                   stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        match = re.match(r"fake-upstream listening on (http://\S+)", line)
        if not match:
            process.kill()
            process.wait()
            process.stdout.close()
            raise RuntimeError("fake upstream did not start (got %r)" % line)
        return cls(process, match.group(1))

    def base_url(self, provider):
        return self.url + formats.BASE_PATHS[provider]

    def _call(self, method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with self._opener.open(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError("fake upstream %s %s -> %s: %s" % (method, path, exc.code, exc.read()[:500])) from None

    def requests(self, since=None):
        query = "" if since is None else "?since=%d" % since
        return self._call("GET", "/_fake/requests" + query)["data"]

    def clear(self):
        """Forget recorded requests and behaviour rules."""
        self._call("DELETE", "/_fake/requests")

    def add_behavior(self, provider, behavior, model=None, times=None):
        spec = {"provider": provider, "model": model, "behavior": behavior, "times": times}
        return self._call("POST", "/_fake/behaviors", spec)["rule"]

    def clear_behaviors(self):
        self._call("DELETE", "/_fake/behaviors")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
