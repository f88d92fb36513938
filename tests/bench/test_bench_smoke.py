"""The benchmark harness still runs end to end: short runs, behaviour only, no timing assertions."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report, sse, wrk

ROOT = Path(__file__).resolve().parents[2]

WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:1/v1/chat/completions
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  20.00ms   90.00%
  Latency Distribution
     50%    2.90ms
     75%    3.40ms
     90%    4.10ms
     99%   12.00ms
  2400 requests in 2.00s, 1.90MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   1200.00
BENCH requests=2400 duration_us=2000000 connect=0 read=0 write=0 status=3 timeout=0 \
p50_us=2900 p90_us=4100 p99_us=12000 p999_us=19000 mean_us=3100.0 max_us=20000
"""


def test_wrk_output_parses_percentiles_and_errors():
    result = wrk.parse_output(WRK_OUTPUT, connections=4, threads=2)
    assert (result.requests, result.rps, result.p50_ms, result.p99_ms) == (2400, 1200.0, 2.9, 12.0)
    assert result.non_2xx == 3 and result.errors["status"] == 3


def test_chunked_sse_decoder_handles_split_chunks():
    body = b'data: {"content":"w0 "}\n\n'
    wire = b"%x\r\n%s\r\n" % (len(body), body) + b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"
    decoder = sse.ChunkedEvents()
    events = [event for i in range(0, len(wire), 7) for event in decoder.feed(wire[i:i + 7])]
    assert events == [b'{"content":"w0 "}', b"[DONE]"] and decoder.finished


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/install-system-deps.sh bench)")
def test_quick_run_completes_without_errors(tmp_path):
    output = tmp_path / "latest.json"
    upstream = "nginx" if shutil.which("nginx") or Path("/usr/sbin/nginx").exists() else "gevent"
    command = [sys.executable, "-m", "bench.run", "--quick", "--scenarios", "nonstream,stream,capacity",
               "--duration", "1", "--connections", "4", "--streams", "10", "--capacity-streams", "20",
               "--json-upstream", upstream, "--wait-quiet", "0", "--phases", "--output", str(output)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(output.read_text())

    assert {"machine", "versions", "command", "plan", "upstream", "single", "targets"} <= results.keys()
    assert results["error"] is None
    assert results["upstream"]["nonstream"]["kind"] == upstream
    for run in (results["upstream"]["nonstream"]["c32"], results["single"]["c32"], results["single"]["c1"],
                results["bare"]["c32"], results["bare"]["c1"]):
        assert run["requests"] > 0 and run["error_count"] == 0 and run["non_2xx"] == 0
        assert run is results["upstream"]["nonstream"]["c32"] or run["server_cpu_ms_per_request"] > 0
    assert results["single"]["c32"]["connections"] == 4
    for stream in (results["single"]["stream"], results["bare"]["stream"]):
        assert stream["ok"] == 10 and stream["errors"] == 0 and stream["gap_ms"]["samples"] > 0
    for stream in (results["single"]["stream_c32"], results["bare"]["stream_c32"]):
        assert stream["ok"] == 20 and stream["errors"] == 0 and stream["concurrency"] == 4
    phases = results["phases"]
    assert phases["requests"] > 0 and {"auth", "hold", "upstream", "capture", "send"} <= phases["all"].keys()
    capacity = results["single"]["capacity"]
    assert capacity["errors"] == 0 and capacity["max_open"] > 0 and capacity["rss_peak_kb"] > 0
    names = {row["name"] for row in results["targets"]}
    assert len(names) == len(report.judge(results)) == 8
    by_name = {row["name"]: row for row in results["targets"]}
    ratio = by_name["non-streamed throughput c32 vs bare pass-through"]
    assert ratio["measured"] == round(results["single"]["c32"]["rps"] / results["bare"]["c32"]["rps"], 2)
    assert ratio["pass"] in (True, False) and "req/s" in ratio["absolute"]
    assert by_name["non-streamed throughput c32 vs LiteLLM"]["pass"] is None  # not in this run
    assert by_name["time to first token p50 vs bare pass-through"]["measured"] is not None
    assert "EtherGate benchmark" in done.stdout and ("PASS" in done.stdout or "FAIL" in done.stdout)


def test_the_two_worker_ceiling_adds_up_every_role_s_cpu():
    from bench.report import multi_ceiling
    results = {"machine": {"nproc": 2}, "multi": {
        "single_c32": {"rps": 500.0, "cpu_cores_by_role": {"gateway": 1.0, "postgresql": 0.25}},
        "c32": {"rps": 640.0, "cpu_cores_by_role": {"gateway": 1.408, "postgresql": 0.512, "redis": 0.064}}}}
    lines = dict(multi_ceiling(results))
    assert lines["CPU ms per request on PostgreSQL, 1 process"] == "gateway 2, postgresql 0.5"
    assert lines["CPU ms per request on PostgreSQL, 2 workers"] == "gateway 2.2, postgresql 0.8, redis 0.1"
    # 2 cores / 3.1 ms per request
    assert lines["2 workers' ceiling on 2 cores at those costs"] == "645 req/s, 1.29 x the 1-process run"
