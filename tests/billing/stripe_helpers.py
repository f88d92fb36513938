"""A loopback stand-in for the Stripe API and signed webhook events, shared by the top-up tests."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import stripe

WEBHOOK_SECRET = "whsec_test_secret"


class FakeStripe:
    """A loopback stand-in for api.stripe.com that answers POST /v1/checkout/sessions."""

    def __init__(self):
        self.requests: list[dict] = []
        self.counter = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self.path != "/v1/checkout/sessions":
                    return self.reply(404, {"error": {"type": "invalid_request_error", "message": "no route"}})
                form = {k: v[0] for k, v in parse_qs(body).items()}
                fake.counter += 1
                session_id = f"cs_test_a1B2c3D4e5F6g7H8i9J0k{fake.counter:04d}"
                self.reply(200, checkout_session(session_id, form))

            def reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_test123")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def checkout_session(session_id, form, payment_status="unpaid", status="open"):
    metadata = {k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")}
    amount = int(form.get("line_items[0][price_data][unit_amount]", 0))
    return {
        "id": session_id, "object": "checkout.session", "mode": "payment", "status": status,
        "payment_status": payment_status, "amount_subtotal": amount, "amount_total": amount,
        "currency": form.get("line_items[0][price_data][currency]", "cny"),
        "client_reference_id": form.get("client_reference_id"), "metadata": metadata,
        "success_url": form.get("success_url"), "cancel_url": form.get("cancel_url"),
        "customer": None, "payment_intent": None, "livemode": False, "created": int(time.time()),
        "expires_at": int(time.time()) + 86400,
        "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
    }


@pytest.fixture
def fake_stripe():
    fake = FakeStripe()
    yield fake
    fake.stop()


def signed(event: dict, secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
    payload = json.dumps(event)
    return payload.encode(), stripe.WebhookSignature.generate_signature_header(payload, secret)


def session_event(event_id, event_type, session: dict, **changes) -> dict:
    return {"id": event_id, "object": "event", "api_version": "2025-10-29.clover", "created": int(time.time()),
            "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
            "type": event_type, "data": {"object": {**session, **changes}}}


def start(provider, workspace, amount=50_000_000):
    """Start a checkout and return the session Stripe would send back in its webhooks."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.id
    checkout = provider.start_checkout(workspace_id, amount, None, "https://eg.test/ok", "https://eg.test/no")
    form = {"line_items[0][price_data][unit_amount]": str(amount // 10_000), "client_reference_id": str(workspace_id),
            "metadata[workspace_id]": str(workspace_id), "metadata[amount_micro]": str(amount)}
    return checkout_session(checkout.external_id, form)
