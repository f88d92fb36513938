"""The ceiling for this stack: a bare Flask + gevent pass-through to the same upstream as the gateway.

    python -m bench.bare --upstream http://127.0.0.1:PORT/deepseek --port 0

No auth, no billing, no logging: POST /v1/chat/completions forwards the body to the upstream's
/chat/completions over pooled keep-alive connections and relays the answer, a stream chunk by chunk.
Served the way wsgi.py serves the gateway (gevent's WSGIServer, a handler pool, TCP_NODELAY, status line,
headers and first chunk in one write), so the gateway's ratio to it is the cost of what the gateway adds.
Prints "listening on http://HOST:PORT" once ready.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from flask import Flask, Response, request  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from gevent.pywsgi import WSGIHandler, WSGIServer  # noqa: E402
from urllib3.connectionpool import connection_from_url  # noqa: E402
from urllib3.util import parse_url  # noqa: E402

from ethergate.serving import OneWriteResponses  # noqa: E402

from bench.payloads import PROVIDER_KEY, limit_open_files  # noqa: E402


def create_app(upstream: str) -> Flask:
    app = Flask("bench-bare")
    url = upstream.rstrip("/") + "/chat/completions"
    pool = connection_from_url(url, maxsize=4096, block=False, retries=False)
    path = parse_url(url).request_uri

    @app.post("/v1/chat/completions")
    def chat_completions():
        body = request.get_data()
        stream = b'"stream":true' in body
        answer = pool.urlopen("POST", path, body=body, retries=False, redirect=False, preload_content=not stream,
                              headers={"Authorization": f"Bearer {PROVIDER_KEY}", "Content-Type": "application/json"})
        content_type = answer.headers.get("Content-Type", "application/json")
        if not stream:
            return Response(answer.data, status=answer.status, content_type=content_type)

        def relay():
            try:
                yield from answer.read_chunked(None, decode_content=False)
            finally:
                answer.release_conn()

        return Response(relay(), status=answer.status, content_type=content_type)

    return app


class NoDelayHandler(OneWriteResponses, WSGIHandler):
    def __init__(self, sock, address, server, rfile=None):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, address, server, rfile)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Bare Flask + gevent pass-through (benchmark reference).")
    parser.add_argument("--upstream", required=True, help="the provider base URL, e.g. http://127.0.0.1:8080/deepseek")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    limit_open_files()
    server = WSGIServer((args.host, args.port), create_app(args.upstream), handler_class=NoDelayHandler, log=None,
                        error_log=sys.stderr, spawn=Pool())
    server.init_socket()
    print(f"bare pass-through listening on http://{args.host}:{server.server_port}", flush=True)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    gevent.signal_handler(signal.SIGINT, server.stop)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
