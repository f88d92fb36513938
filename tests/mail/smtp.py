"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests that follow emailed links."""
from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller

LINK_RE = re.compile(r"https?://\S+")


@dataclass
class Delivered:
    sender: str
    recipients: list[str]
    subject: str
    body: str

    @property
    def links(self) -> list[str]:
        return LINK_RE.findall(self.body)


class MailCatcher:
    def __init__(self):
        self.messages: list[Delivered] = []
        self._arrived = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",)).get_content()
        with self._arrived:
            self.messages.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), str(parsed["Subject"]), body))
            self._arrived.notify_all()
        return "250 OK"

    def start(self) -> "MailCatcher":
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller.loop.is_running():
            self.controller.stop()

    @property
    def env(self) -> dict:
        return {"ETHERGATE_SMTP_HOST": "127.0.0.1", "ETHERGATE_SMTP_PORT": str(self.port),
                "ETHERGATE_SMTP_SECURITY": "none", "ETHERGATE_SMTP_FROM": "EtherGate <noreply@ethergate.test>",
                "ETHERGATE_SMTP_TIMEOUT": "5"}

    @property
    def config(self) -> dict:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_SECURITY": "none", "SMTP_USERNAME": None,
                "SMTP_PASSWORD": None, "SMTP_FROM": "EtherGate <noreply@ethergate.test>", "SMTP_TIMEOUT": 5.0}

    def wait_for(self, recipient: str, count: int = 1, timeout: float = 15) -> Delivered:
        """The `count`-th message to `recipient`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                mine = [m for m in self.messages if recipient in m.recipients]
                if len(mine) >= count:
                    return mine[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no message #{count} for {recipient}; got {[m.recipients for m in self.messages]}")
                self._arrived.wait(left)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
