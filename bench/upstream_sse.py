"""A fast, fixed-answer DeepSeek-style upstream for the benchmark: SSE streams, and JSON when nginx is absent.

    python -m bench.upstream_sse --port 0 --chunks 8 --gap-ms 5

Prints "listening on http://HOST:PORT" once ready. A request may override the stream's shape with
`bench:chunks=N,gap_ms=M` anywhere in its body (the gateway passes message text through), so one server
serves the latency runs and the slow capacity run. Streams are chunked HTTP/1.1 with TCP_NODELAY: the
role chunk at once, then one content chunk per gap, then the finish chunk (with usage when asked for)
and `data: [DONE]`.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

from bench.payloads import completion_json, limit_open_files  # noqa: E402

SHAPE = re.compile(rb"bench:chunks=(\d+),gap_ms=(\d+)")
MAX_HEAD = 64 * 1024
MAX_CHUNKS = 10_000


def chunk_event(base: dict, delta: dict, finish: str | None = None, usage: dict | None = None,
                with_usage: bool = False) -> bytes:
    chunk = dict(base)
    chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    if with_usage:
        chunk["usage"] = usage  # DeepSeek sends "usage": null on every chunk but the last when usage is asked for
    data = b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


class Server:
    def __init__(self, chunks: int, gap_ms: int):
        self.chunks, self.gap_ms = chunks, gap_ms
        self.answer = completion_json().encode()

    def handle(self, sock, _address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = sock.recv(65536)
                    if not data or len(buf) > MAX_HEAD:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = buf[:length], buf[length:]
                if not head.split(b" ", 2)[1].endswith(b"/chat/completions"):
                    sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                elif re.search(rb'"stream"\s*:\s*true', body):
                    self.stream(sock, body)
                else:
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(self.answer), self.answer))
        except (OSError, ValueError):
            return
        finally:
            sock.close()

    def stream(self, sock, body: bytes) -> None:
        chunks, gap_ms = self.chunks, self.gap_ms
        shape = SHAPE.search(body)
        if shape:
            chunks, gap_ms = min(int(shape.group(1)), MAX_CHUNKS), int(shape.group(2))
        with_usage = re.search(rb'"include_usage"\s*:\s*true', body) is not None
        base = {"id": str(uuid.uuid4()), "object": "chat.completion.chunk", "created": int(time.time()),
                "model": "deepseek-flash", "system_fingerprint": "fp_bench"}
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                     b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + chunk_event(base, {"role": "assistant", "content": ""}, with_usage=with_usage))
        for index in range(chunks):
            gevent.sleep(gap_ms / 1000)
            sock.sendall(chunk_event(base, {"content": f"w{index} "}, with_usage=with_usage))
        usage = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks,
                 "prompt_tokens_details": {"cached_tokens": 0}, "prompt_cache_hit_tokens": 0,
                 "prompt_cache_miss_tokens": 12}
        done = b"data: [DONE]\n\n"
        sock.sendall(chunk_event(base, {"content": ""}, "stop", usage, with_usage)
                     + b"%x\r\n%s\r\n" % (len(done), done) + b"0\r\n\r\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark SSE upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--gap-ms", type=int, default=5)
    args = parser.parse_args(argv)
    limit_open_files()
    server = StreamServer((args.host, args.port), Server(args.chunks, args.gap_ms).handle, backlog=4096)
    server.init_socket()
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    gevent.signal_handler(15, server.stop)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
