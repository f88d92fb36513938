"""Production-shaped servers for the operations tests: gunicorn with gevent workers, as deployed.

Also small readers shared by the tests: a Prometheus scrape as a dict, a stream read to its end, and
database reads that end their transaction at once (a read left open would keep a PostgreSQL connection
idle in transaction, and a SQLite snapshot from moving on).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, LiveServer
from tests.services import free_port


class GunicornServer(LiveServer):
    """`gunicorn -c gunicorn.conf.py wsgi:app` in a child process; `process.pid` is the master."""

    def __init__(self, database_url: str, fake, extra_env: dict | None = None, log_path: Path | None = None,
                 workers: int = 2):
        self.port = free_port()
        env = {"ETHERGATE_BIND": f"127.0.0.1:{self.port}", "ETHERGATE_WORKERS": str(workers),
               "PROMETHEUS_MULTIPROC_DIR": None}
        env.update(extra_env or {})
        super().__init__(database_url, fake, env, log_path)
        self.workers = workers

    def start(self, timeout: float = 30) -> "GunicornServer":
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        # The control socket's default path is shared by every gunicorn of this user.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--no-control-socket", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200 and self.booted() >= self.workers:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn did not start within {timeout} s:\n{self.log_tail()}")

    def booted(self) -> int:
        return sum(1 for line in self.log_lines() if "Booting worker" in line.get("msg", ""))

    def terminate(self) -> None:
        """SIGTERM to the master: stop accepting, let in-flight requests finish within the grace period."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def log_lines(self) -> list[dict]:
        lines = []
        for raw in self.log_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"msg": raw, "unparsed": True})
        return lines

    def log_text(self) -> str:
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]


def scrape(url: str, **kwargs) -> dict:
    """{(sample name, frozenset of label pairs): value} from a /metrics page."""
    response = requests.get(url + "/metrics", timeout=5, **kwargs)
    assert response.status_code == 200, response.text[:300]
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0.0)


def total(samples: dict, name: str, **labels) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = {(k, str(v)) for k, v in labels.items()}
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def read_stream(response: requests.Response, lines=None) -> dict:
    """Read an SSE response to its end: the data payloads, whether [DONE] came, any error event.

    `lines` continues an `iter_lines()` the caller already started.
    """
    chunks, done, error = [], False, None
    for line in lines if lines is not None else response.iter_lines():
        if not line.startswith(b"data: "):
            continue
        data = line[len(b"data: "):]
        if data == b"[DONE]":
            done = True
            continue
        payload = json.loads(data)
        if "error" in payload:
            error = payload["error"]
        else:
            chunks.append(payload)
    text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))
    return {"chunks": chunks, "done": done, "error": error, "text": text}


def fresh(read):
    from ethergate.extensions import db

    db.session.rollback()
    try:
        return read()
    finally:
        db.session.rollback()


def directive(text: str, **behavior) -> list[dict]:
    return [{"role": "user", "content": f"{text} [[fake:{json.dumps(behavior)}]]"}]


def wait_until(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
