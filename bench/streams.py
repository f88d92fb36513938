"""Streaming client: opens SSE chat streams on raw sockets and timestamps every event as it arrives.

    python -m bench.streams --url URL --token T --body-file F --count 300 --concurrency 1

Prints one JSON object: time to first `data:` event, the gaps between content events, errors, and for a
ramped run (--ramp-s) how many streams were open at once and when. Runs in its own process so that its
CPU use does not disturb the gateway's or the upstream's event loop.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402

from bench.payloads import limit_open_files  # noqa: E402
from bench.sse import ChunkedEvents, summarize  # noqa: E402

MAX_HEAD = 64 * 1024


class StreamError(Exception):
    pass


@dataclass
class StreamRecord:
    ttft_ms: float | None = None
    content_at: list[float] = field(default_factory=list)
    opened_at: float | None = None
    closed_at: float | None = None
    error: str | None = None


def read_head(sock) -> tuple[int, dict, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data or len(buf) > MAX_HEAD:
            raise StreamError("connection closed before the response head")
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def run_stream(host: str, port: int, request: bytes, timeout: float, record: StreamRecord) -> None:
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sock.sendall(request)
        status, headers, rest = read_head(sock)
        if status != 200:
            body = rest
            while len(body) < int(headers.get("content-length") or 0):
                data = sock.recv(65536)
                if not data:
                    break
                body += data
            raise StreamError(f"HTTP {status}: {body[:300].decode(errors='replace')}")
        if "chunked" not in headers.get("transfer-encoding", ""):
            raise StreamError("stream was not chunked")
        record.opened_at = time.time()
        decoder, done, data = ChunkedEvents(), False, rest
        while True:
            now = time.perf_counter()
            for event in decoder.feed(data):
                if record.ttft_ms is None:
                    record.ttft_ms = (now - started) * 1000
                if event == b"[DONE]":
                    done = True
                elif b'"error"' in event:
                    raise StreamError(f"error event: {event[:300].decode(errors='replace')}")
                elif b'"content":"w' in event:
                    record.content_at.append(now)
            if decoder.finished:
                break
            data = sock.recv(65536)
            if not data:
                break
        if not done:
            raise StreamError("stream ended without data: [DONE]")
    finally:
        record.closed_at = time.time()
        sock.close()


def build_request(url: str, token: str, body: bytes) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nAccept: text/event-stream\r\nUser-Agent: ethergate-bench\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return parts.hostname, parts.port or 80, head.encode() + body


def run(url: str, token: str, body: bytes, count: int, concurrency: int, ramp_s: float, timeout: float) -> dict:
    host, port, request = build_request(url, token, body)
    records = [StreamRecord() for _ in range(count)]

    def one(record: StreamRecord) -> None:
        try:
            run_stream(host, port, request, timeout, record)
        except (OSError, StreamError, ValueError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"[:400]

    started = time.time()
    if ramp_s > 0:
        greenlets = [gevent.spawn_later(ramp_s * i / count, one, record) for i, record in enumerate(records)]
        gevent.joinall(greenlets)
    else:
        pool = Pool(concurrency)
        for record in records:
            pool.spawn(one, record)
        pool.join()
    finished = time.time()

    ok = [r for r in records if r.error is None]
    gaps = [(b - a) * 1000 for r in ok for a, b in zip(r.content_at, r.content_at[1:])]
    errors = [r.error for r in records if r.error is not None]
    result = {"count": count, "ok": len(ok), "errors": len(errors), "error_samples": sorted(set(errors))[:5],
              "concurrency": concurrency, "ramp_s": ramp_s, "wall_s": round(finished - started, 3),
              "ttft_ms": summarize([r.ttft_ms for r in ok if r.ttft_ms is not None]),
              "gap_ms": summarize(gaps)}
    if ramp_s > 0:
        result.update(open_window(records))
    return result


def open_window(records: list[StreamRecord]) -> dict:
    """When the most streams were open at once: the span the runner reads the gateway's memory in."""
    marks = sorted([(r.opened_at, 1) for r in records if r.opened_at] + [(r.closed_at, -1) for r in records
                                                                          if r.opened_at and r.closed_at])
    open_now, peak, peak_at, peak_until = 0, 0, None, None
    for at, step in marks:
        open_now += step
        if open_now > peak:
            peak, peak_at, peak_until = open_now, at, None
        elif step < 0 and peak_until is None and open_now == peak - 1:
            peak_until = at
    return {"max_open": peak, "all_open_from": peak_at, "all_open_until": peak_until}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Time SSE chat streams.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--ramp-s", type=float, default=0.0, help="open all streams over this many seconds")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one read may wait")
    args = parser.parse_args(argv)
    limit_open_files()
    with open(args.body_file, "rb") as body:
        result = run(args.url, args.token, body.read(), args.count, args.concurrency, args.ramp_s, args.timeout)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
