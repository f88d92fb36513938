"""Load balancer checks: /healthz says the process is alive, /status says whether it can serve (503 if not)."""
from __future__ import annotations

import requests

from tests.conftest import LiveServer
from tests.ops.servers import scrape, value, wait_until


def test_a_healthy_server_is_live_and_ready(live_server):
    assert requests.get(live_server.url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(live_server.url + "/status", timeout=5)
    assert ready.status_code == 200 and ready.json()["database"]["reachable"] is True


def test_without_its_database_the_server_is_live_but_not_ready(fake_upstream, tmp_path):
    unreachable = f"sqlite:///{tmp_path}/no-such-directory/ethergate.sqlite3"
    server = LiveServer(unreachable, fake_upstream, {"ETHERGATE_SWEEP_INTERVAL_SECONDS": "0.2"},
                        tmp_path / "server.log").start()
    try:
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        ready = requests.get(server.url + "/status", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["status"] == "degraded" and ready.json()["database"]["reachable"] is False
        # The hold sweeper keeps trying and says so in the metrics.
        assert wait_until(lambda: value(scrape(server.url), "ethergate_hold_sweep_errors_total") >= 2, timeout=5)
    finally:
        server.stop()
