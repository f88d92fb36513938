"""Preparing and starting the gateway under test as an operator would: the real CLI, then wsgi.py or gunicorn."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .child import Child, ChildFailed, child_pids, environ, free_port, rss_kb, wait_for_port
from .payloads import PROVIDER, PROVIDER_KEY, PUBLIC_MODEL, chat_request

ROOT = Path(__file__).resolve().parent.parent
# Far above anything a run can send: the limiter counts every request but never refuses one.
BENCH_RPM = 1_000_000_000
CREDITS = "10000000"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Tenant:
    database_url: str
    secret_key: str
    api_key: str


def flask_cli(env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise ChildFailed(f"flask {' '.join(args[:2])} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def prepare_database(database_url: str) -> Tenant:
    """Migrate, load the catalog, and create a workspace with plenty of credits and a key that is never limited."""
    secret = secrets.token_urlsafe(48)
    env = environ(ETHERGATE_DATABASE_URL=database_url, ETHERGATE_SECRET_KEY=secret)
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "catalog", "sync")
    email = "bench@example.com"
    flask_cli(env, "admin", "create-user", email, "--password", secrets.token_urlsafe(16))
    slug = flask_cli(env, "admin", "create-workspace", "Benchmark", "--owner", email).splitlines()[-1]
    flask_cli(env, "admin", "grant-credits", slug, CREDITS, "--note", "benchmark")
    api_key = flask_cli(env, "admin", "create-key", slug, "--name", "bench", "--rpm", str(BENCH_RPM)).splitlines()[-1]
    return Tenant(database_url, secret, api_key)


def gateway_env(tenant: Tenant, upstream_base_url: str, redis_url: str | None = None) -> dict:
    env = environ(ETHERGATE_DATABASE_URL=tenant.database_url, ETHERGATE_SECRET_KEY=tenant.secret_key)
    env[f"ETHERGATE_{PROVIDER.upper()}_API_KEY"] = PROVIDER_KEY
    env[f"ETHERGATE_{PROVIDER.upper()}_BASE_URL"] = upstream_base_url
    if redis_url:
        env["ETHERGATE_REDIS_URL"] = redis_url
    return env


class Gateway:
    def __init__(self, kind: str, child: Child, url: str, api_key: str):
        self.kind, self.child, self.url, self.api_key = kind, child, url, api_key

    @property
    def completions_url(self) -> str:
        return self.url + "/v1/chat/completions"

    @property
    def pid(self) -> int:
        return self.child.pid

    def serving_pids(self) -> list[int]:
        """The processes that serve requests: the gunicorn workers, or the one wsgi.py process."""
        return child_pids(self.pid) if self.kind == "gunicorn" else [self.pid]

    def rss_kb(self) -> int:
        return sum(rss_kb(pid) or 0 for pid in self.serving_pids())

    def stop(self) -> None:
        self.child.stop(timeout=30)


def start_single(workdir: Path, tenant: Tenant, upstream_base_url: str, name: str,
                 redis_url: str | None = None, extra_env: dict | None = None) -> Gateway:
    env = gateway_env(tenant, upstream_base_url, redis_url)
    env.update(extra_env or {})
    child = Child(f"gateway {name}", [sys.executable, "wsgi.py", "--host", "127.0.0.1", "--port", "0"],
                  workdir / f"gateway-{name}.log", env=env, cwd=ROOT).start(stdout=subprocess.PIPE)
    url = child.read_listening_url(timeout=60)
    return Gateway("wsgi.py", child, url, tenant.api_key)


def start_bare(workdir: Path, upstream_base_url: str, name: str) -> Gateway:
    """The bare Flask + gevent pass-through (bench/bare.py) in front of the same upstream: the stack's ceiling."""
    child = Child(f"bare pass-through {name}", [sys.executable, "-m", "bench.bare", "--upstream", upstream_base_url,
                                                "--port", "0"],
                  workdir / f"bare-{name}.log", env=environ(), cwd=ROOT).start(stdout=subprocess.PIPE)
    url = child.read_listening_url(timeout=60)
    return Gateway("bare", child, url, "sk-bench-bare")


def gunicorn_argv(port: int, workers: int) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn"]
    if (ROOT / "gunicorn.conf.py").is_file():
        argv += ["-c", "gunicorn.conf.py"]
    else:
        argv += ["-k", "gevent"]
    # The control socket's default path is shared by every gunicorn on the machine, a test run's included.
    return argv + ["--no-control-socket", "-w", str(workers), "-b", f"127.0.0.1:{port}", "wsgi:app"]


def start_gunicorn(workdir: Path, tenant: Tenant, upstream_base_url: str, redis_url: str, workers: int,
                   name: str) -> Gateway:
    port = free_port()
    env = gateway_env(tenant, upstream_base_url, redis_url)
    env.update(ETHERGATE_BIND=f"127.0.0.1:{port}", ETHERGATE_WORKERS=str(workers))
    child = Child(f"gateway {name}", gunicorn_argv(port, workers), workdir / f"gateway-{name}.log", env=env,
                  cwd=ROOT).start()
    wait_for_port(port, child, timeout=60)
    gateway = Gateway("gunicorn", child, f"http://127.0.0.1:{port}", tenant.api_key)
    wait_for_workers(gateway, workers)
    return gateway


def wait_for_workers(gateway: Gateway, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(gateway.serving_pids()) < workers:
        if time.monotonic() > deadline or not gateway.child.alive():
            gateway.stop()
            raise ChildFailed(f"gunicorn did not start {workers} workers; log tail:\n{gateway.child.log_tail()}")
        time.sleep(0.1)


def check_answer(gateway: Gateway, stream: bool) -> None:
    """One real request before any load, so a misconfigured run fails with the gateway's own error message."""
    request = urllib.request.Request(
        gateway.completions_url, data=chat_request(PUBLIC_MODEL, stream=stream, shape=(2, 1)), method="POST",
        headers={"Authorization": f"Bearer {gateway.api_key}", "Content-Type": "application/json"})
    try:
        with NO_PROXY.open(request, timeout=30) as response:
            body = response.read().decode()
    except urllib.error.HTTPError as error:
        raise ChildFailed(f"{gateway.child.name} answered {error.code}: {error.read().decode()[:1000]}") from None
    if stream and "data: [DONE]" not in body:
        raise ChildFailed(f"{gateway.child.name} stream did not finish: {body[:1000]}")
    if not stream and not json.loads(body).get("choices"):
        raise ChildFailed(f"{gateway.child.name} answer has no choices: {body[:1000]}")
