"""Alert fixtures: the app on a loopback SMTP server, and a loopback webhook receiver that checks signatures."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import app_config
from tests.mail.smtp import MailCatcher


class WebhookReceiver:
    """Answers each POST with the next status in `statuses` (then 200) and keeps what it received."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body,
                                          "event": json.loads(body)["type"]})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/ethergate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp_server():
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def app(database_url, smtp_server):
    from ethergate import create_app
    from ethergate.extensions import db

    app = create_app(app_config(database_url, WEBHOOK_ALLOW_PRIVATE=True, **smtp_server.config))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
