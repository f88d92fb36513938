"""EtherGate benchmark: `python -m bench.run` (full, ~5 minutes) or `python -m bench.run --quick`.

Starts its own upstreams (nginx for JSON answers, bench/upstream_sse.py for streams) and checks them alone,
prepares a fresh database through the real CLI, starts the gateway as an operator would, loads it with wrk
and bench/streams.py, and writes bench/results/latest.json plus a table against the issue's targets.
Everything listens on 127.0.0.1 and every load run is bounded in count and time.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import gateway as gw
from . import machine, report, upstreams, wrk
from .child import ChildFailed, environ, rss_kb
from .payloads import PUBLIC_MODEL, UPSTREAM_MODEL, chat_request, limit_open_files

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCENARIOS = ("nonstream", "stream", "capacity", "multi", "litellm")
DEFAULT_SCENARIOS = ("nonstream", "stream", "capacity", "multi", "litellm")
# Above this many cores used by other processes a run's figures understate the gateway.
QUIET_CORES = 0.25


@dataclass
class Plan:
    duration: float = 10
    warmup: float = 3
    connections: int = 32
    streams: int = 300
    stream_chunks: int = 8
    stream_gap_ms: int = 5
    capacity_streams: int = 2000
    capacity_chunks: int = 30
    capacity_gap_ms: int = 1000
    capacity_ramp_s: float = 10
    workers: int = 2

    @classmethod
    def quick(cls) -> "Plan":
        return cls(duration=2, warmup=1, streams=30, capacity_streams=200, capacity_chunks=5, capacity_gap_ms=500,
                   capacity_ramp_s=1)


class Bench:
    def __init__(self, plan: Plan, workdir: Path, stack: ExitStack, results: dict):
        self.plan, self.workdir, self.stack, self.results = plan, workdir, stack, results
        self.scripts: dict[str, Path] = {}

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        self.results.setdefault("warnings", []).append(message)
        self.log("WARNING: " + message)

    def script(self, name: str, body: bytes, token: str) -> Path:
        if name not in self.scripts:
            self.scripts[name] = wrk.write_script(self.workdir, name, body, token)
        return self.scripts[name]

    def load(self, label: str, url: str, script: Path, connections: int, roots: tuple[int, ...] = (),
             server_pids: list[int] | None = None) -> dict:
        """One measured wrk run after a warm-up at the same concurrency.

        With server_pids, also the server's CPU time per request: unlike req/s it barely moves when other
        processes compete for the cores, so runs on a busy machine stay comparable.
        """
        wrk.run(url, script, connections, self.plan.warmup)
        meter = machine.CpuMeter(roots)
        roles = machine.RoleMeter(server_pids or [])
        cpu_before = machine.cpu_seconds(server_pids or [])
        started = time.monotonic()
        result = wrk.run(url, script, connections, self.plan.duration)
        cpu_used = machine.cpu_seconds(server_pids or []) - cpu_before
        elapsed = time.monotonic() - started
        self.note_other_cpu(label, meter, elapsed)
        data = result.to_dict()
        data["cpu_cores_by_role"] = roles.cores(elapsed)
        if server_pids and result.requests:
            data["server_cpu_ms_per_request"] = round(cpu_used * 1000 / result.requests, 3)
        errors = result.error_count + result.non_2xx
        self.log(f"{label}: {result.rps} req/s, p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, {errors} errors"
                 + (f", {data['server_cpu_ms_per_request']} ms CPU/request" if "server_cpu_ms_per_request" in data
                    else ""))
        if errors:
            self.warn(f"{label}: {errors} failed requests ({result.errors}, non-2xx {result.non_2xx})")
        return data

    def note_other_cpu(self, label: str, meter: machine.CpuMeter, seconds: float) -> None:
        other = meter.other_cores(seconds)
        self.results.setdefault("other_cpu_cores", {})[label] = other
        if other > QUIET_CORES:
            self.warn(f"{label}: other processes used {other} cores meanwhile; the figures understate the gateway")

    def streams(self, label: str, url: str, token: str, body: bytes, count: int, concurrency: int = 1,
                ramp_s: float = 0.0, timeout_s: float = 60.0, server_pids: list[int] | None = None) -> dict:
        body_file = self.workdir / f"{label.replace(' ', '-')}.json"
        body_file.write_bytes(body)
        argv = [sys.executable, "-m", "bench.streams", "--url", url, "--token", token, "--body-file", str(body_file),
                "--count", str(count), "--concurrency", str(concurrency), "--ramp-s", str(ramp_s),
                "--timeout", str(timeout_s)]
        meter = machine.CpuMeter()
        cpu_before = machine.cpu_seconds(server_pids or [])
        started = time.monotonic()
        done = subprocess.run(argv, cwd=ROOT, env=environ(), capture_output=True, text=True,
                              timeout=timeout_s * 2 + ramp_s + count * 2)
        if done.returncode != 0:
            raise ChildFailed(f"stream client failed: {done.stderr[-2000:]}")
        result = json.loads(done.stdout)
        if server_pids and result["ok"]:
            cpu_used = machine.cpu_seconds(server_pids) - cpu_before
            result["server_cpu_ms_per_stream"] = round(cpu_used * 1000 / result["ok"], 3)
        self.note_other_cpu(label, meter, time.monotonic() - started)
        self.log(f"{label}: {result['ok']}/{count} streams, TTFT p50 {result['ttft_ms']['p50']} ms, "
                 f"gap p99 {result['gap_ms']['p99']} ms, {result['errors']} errors {result['error_samples'][:1]}")
        if result["errors"]:
            self.warn(f"{label}: {result['errors']} streams failed, e.g. {result['error_samples'][:2]}")
        return result

    # -- scenarios ------------------------------------------------------------------------------------
    def start_upstreams(self, choice: str, need_json: bool, need_sse: bool) -> None:
        self.json_upstream = self.sse_upstream = None
        if need_json and choice != "gevent":
            try:
                binary = upstreams.nginx_binary(install=True)
            except (OSError, subprocess.SubprocessError) as exc:
                if choice == "nginx":
                    raise
                binary = None
                self.warn(f"nginx could not be installed ({exc}): the gevent upstream serves JSON answers instead")
            if binary:
                self.results["versions"]["nginx"] = upstreams.nginx_version(binary)
                self.json_upstream = upstreams.start_nginx(self.workdir, binary)
                self.stack.callback(self.json_upstream.stop)
        if need_sse or (need_json and self.json_upstream is None):
            self.sse_upstream = upstreams.start_sse(self.workdir, self.plan.stream_chunks, self.plan.stream_gap_ms)
            self.stack.callback(self.sse_upstream.stop)
        if self.json_upstream is None and need_json:
            self.json_upstream = self.sse_upstream

    def check_upstreams(self, need_json: bool, need_sse: bool) -> None:
        upstream = self.results.setdefault("upstream", {})
        if need_json:
            direct = self.script("direct", chat_request(UPSTREAM_MODEL), "sk-bench")
            url = self.json_upstream.completions_url()
            conc = self.plan.connections
            entry = {"kind": self.json_upstream.kind,
                     "c32": self.load(f"upstream direct c{conc}", url, direct, conc),
                     "c1": self.load("upstream direct c1", url, direct, 1)}
            entry["fast_enough"] = entry["c32"]["rps"] >= report.UPSTREAM_HEADROOM * report.TARGET_RPS
            if not entry["fast_enough"]:
                self.warn(f"the upstream alone served only {entry['c32']['rps']} req/s: it may be the bottleneck")
            upstream["nonstream"] = entry
        if need_sse:
            body = chat_request(UPSTREAM_MODEL, stream=True, shape=(self.plan.stream_chunks, self.plan.stream_gap_ms),
                                include_usage=True)
            entry = self.streams("upstream direct streams", self.sse_upstream.completions_url(), "sk-bench", body,
                                 self.plan.streams)
            entry["kind"] = self.sse_upstream.kind
            upstream["stream"] = entry

    def single_nonstream(self, tenant: gw.Tenant, profile: bool, phases: bool) -> None:
        bare = gw.start_bare(self.workdir, self.json_upstream.base_url(), "json")
        self.stack.callback(bare.stop)
        gw.check_answer(bare, stream=False)
        gateway = gw.start_single(self.workdir, tenant, self.json_upstream.base_url(), "single-json")
        self.stack.callback(gateway.stop)
        gw.check_answer(gateway, stream=False)
        script = self.script("gateway", chat_request(PUBLIC_MODEL), gateway.api_key)
        bare_script = self.script("bare", chat_request(UPSTREAM_MODEL), bare.api_key)
        single, reference = self.results.setdefault("single", {}), self.results.setdefault("bare", {})
        conc = self.plan.connections
        pids, bare_pids = gateway.serving_pids(), bare.serving_pids()
        # Side by side, each gateway run right after the bare one: whatever else loads the machine hits both alike.
        for run, connections in (("c32", conc), ("c1", 1)):
            reference[run] = self.load(f"bare pass-through c{connections}", bare.completions_url, bare_script,
                                       connections, server_pids=bare_pids)
            single[run] = self.load(f"gateway c{connections}", gateway.completions_url, script, connections,
                                    server_pids=pids)
        single["rss_kb"] = gateway.rss_kb()
        reference["rss_kb"] = bare.rss_kb()
        bare.stop()
        if profile:
            from . import profile as profiler
            self.results["profile"] = profiler.profile_under_load(
                gateway.pid, lambda seconds: wrk.run(gateway.completions_url, script, self.plan.connections, seconds),
                self.plan.duration, self.workdir, BENCH / "results", self.log)
        gateway.stop()
        if phases:
            self.phases(tenant, script)

    def phases(self, tenant: gw.Tenant, script: Path) -> None:
        """Where each request's time went at c32, from a gateway started with ETHERGATE_PHASE_LOG (its own run:
        the stamps cost a little CPU, so the measured runs above are taken without them)."""
        from . import phases
        log_path = self.workdir / "phases.jsonl"
        gateway = gw.start_single(self.workdir, tenant, self.json_upstream.base_url(), "single-phases",
                                  extra_env={"ETHERGATE_PHASE_LOG": str(log_path)})
        self.stack.callback(gateway.stop)
        conc = self.plan.connections
        client = self.load(f"gateway c{conc} with phase stamps", gateway.completions_url, script, conc,
                           server_pids=gateway.serving_pids())
        gateway.stop()  # writes the last buffered lines
        with open(log_path) as source:
            summary = phases.summarize([json.loads(line) for line in source if line.strip()])
        summary["client"] = {k: client[k] for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms")}
        self.results["phases"] = summary
        tail = summary.get("slowest_1pct", {})
        if tail:
            worst = max((name for name in tail if name != "total"), key=lambda name: tail[name]["p50"])
            self.log(f"phases: slowest 1% (server total >= {summary['slowest_1pct_from_ms']} ms) spent "
                     f"p50 {tail[worst]['p50']} ms in {worst}")

    def single_stream(self, tenant: gw.Tenant, scenarios: set[str]) -> None:
        gateway = gw.start_single(self.workdir, tenant, self.sse_upstream.base_url(), "single-sse")
        self.stack.callback(gateway.stop)
        gw.check_answer(gateway, stream=True)
        single = self.results.setdefault("single", {})
        if "stream" in scenarios:
            bare = gw.start_bare(self.workdir, self.sse_upstream.base_url(), "sse")
            self.stack.callback(bare.stop)
            gw.check_answer(bare, stream=True)
            reference = self.results.setdefault("bare", {})
            body = chat_request(PUBLIC_MODEL, stream=True, shape=(self.plan.stream_chunks, self.plan.stream_gap_ms))
            bare_body = chat_request(UPSTREAM_MODEL, stream=True,
                                     shape=(self.plan.stream_chunks, self.plan.stream_gap_ms))
            warm = max(10, self.plan.streams // 10)
            self.streams("bare warm-up streams", bare.completions_url, bare.api_key, bare_body, warm)
            self.streams("gateway warm-up streams", gateway.completions_url, gateway.api_key, body, warm)
            conc = self.plan.connections
            for run, concurrency, count in (("stream", 1, self.plan.streams),
                                            ("stream_c32", conc, self.plan.streams * 2)):
                reference[run] = self.streams(f"bare streams c{concurrency}", bare.completions_url, bare.api_key,
                                              bare_body, count, concurrency=concurrency,
                                              server_pids=bare.serving_pids())
                single[run] = self.streams(f"gateway streams c{concurrency}", gateway.completions_url,
                                           gateway.api_key, body, count, concurrency=concurrency,
                                           server_pids=gateway.serving_pids())
            bare.stop()
        if "capacity" in scenarios:
            single["capacity"] = self.capacity(gateway)
        gateway.stop()

    def capacity(self, gateway: gw.Gateway) -> dict:
        plan = self.plan
        body = chat_request(PUBLIC_MODEL, stream=True, shape=(plan.capacity_chunks, plan.capacity_gap_ms))
        quick_body = chat_request(PUBLIC_MODEL, stream=True, shape=(plan.capacity_chunks, 1))
        self.streams("capacity warm-up", gateway.completions_url, gateway.api_key, quick_body, 50, concurrency=10)
        time.sleep(1)
        before = gateway.rss_kb()
        samples: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.time(), rss_kb(gateway.pid) or 0))
                stop.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            result = self.streams(f"capacity {plan.capacity_streams} streams", gateway.completions_url,
                                  gateway.api_key, body, plan.capacity_streams, ramp_s=plan.capacity_ramp_s,
                                  timeout_s=max(30.0, plan.capacity_gap_ms / 1000 * 5))
        finally:
            stop.set()
            sampler.join()
        time.sleep(2)
        after = gateway.rss_kb()
        start, end = result.get("all_open_from"), result.get("all_open_until") or time.time()
        held = [rss for at, rss in samples if start is not None and start <= at <= end]
        peak = max(held) if held else max((rss for _, rss in samples), default=before)
        max_open = result.get("max_open") or 0
        per_stream = round((peak - before) / max_open, 1) if max_open else None
        self.log(f"capacity: {max_open} open at once, RSS {before} -> {peak} KB ({per_stream} KB/stream), "
                 f"{after} KB after")
        return {"streams": plan.capacity_streams, "chunks": plan.capacity_chunks, "gap_ms": plan.capacity_gap_ms,
                "ramp_s": plan.capacity_ramp_s, "max_open": max_open, "ok": result["ok"], "errors": result["errors"],
                "error_samples": result["error_samples"], "ttft_ms": result["ttft_ms"], "gap_ms_observed":
                result["gap_ms"], "rss_before_kb": before, "rss_peak_kb": peak, "rss_after_kb": after,
                "kb_per_stream": per_stream, "rss_samples_kb": [rss for _, rss in samples][::4]}

    def multi(self) -> None:
        from tests import services
        try:
            # Durable, as an operator runs it: every commit waits for its WAL flush.
            pg = services.start_postgres(self.workdir / "pg", durable=True)
            self.stack.callback(pg.stop)
            redis = services.start_redis(self.workdir / "redis")
            self.stack.callback(redis.stop)
        except services.ServiceUnavailable as missing:
            self.results["multi"] = {"skipped": str(missing)}
            self.warn(f"multi-worker run skipped (scripts/install-system-deps.sh db): {missing}")
            return
        self.results["versions"]["postgresql"] = pg.psql("SHOW server_version").strip()
        tenant = gw.prepare_database(pg.create_database("ethergate_bench"))
        roots = tuple(pid for pid in (postmaster_pid(pg), redis.pid) if pid)
        entry = self.results.setdefault("multi", {"workers": self.plan.workers})
        single = gw.start_single(self.workdir, tenant, self.json_upstream.base_url(), "single-pg", redis.url)
        self.stack.callback(single.stop)
        gw.check_answer(single, stream=False)
        script = self.script("gateway-pg", chat_request(PUBLIC_MODEL), tenant.api_key)
        conc = self.plan.connections
        entry["single_c32"] = self.load(f"1 process PostgreSQL c{conc}", single.completions_url, script, conc,
                                        roots, single.serving_pids())
        single.stop()
        gunicorn = gw.start_gunicorn(self.workdir, tenant, self.json_upstream.base_url(), redis.url,
                                     self.plan.workers, "gunicorn")
        self.stack.callback(gunicorn.stop)
        gw.check_answer(gunicorn, stream=False)
        entry["command"] = " ".join(gw.gunicorn_argv(0, self.plan.workers)[1:]).replace("127.0.0.1:0", "127.0.0.1:PORT")
        pids = gunicorn.serving_pids()
        entry["c32"] = self.load(f"gunicorn c{conc}", gunicorn.completions_url, script, conc, roots, pids)
        entry["c1"] = self.load("gunicorn c1", gunicorn.completions_url, script, 1, roots, pids)
        entry["rss_kb"] = gunicorn.rss_kb()
        gunicorn.stop()


def postmaster_pid(pg) -> int | None:
    try:
        return int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, TypeError, IndexError):
        return None


def wait_for_quiet(seconds: float, log) -> None:
    """Give other work on the machine a chance to finish: the benchmark shares the CPUs with it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        meter = machine.CpuMeter()
        time.sleep(2)
        other = meter.other_cores(2)
        if other < QUIET_CORES:
            return
        log(f"other processes use {other} cores; waiting up to {max(0, int(deadline - time.monotonic()))} s more")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (seconds, a few streams): a smoke check")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--duration", type=float, help="seconds per measured wrk run (default 10, quick 2)")
    parser.add_argument("--connections", type=int, help="concurrency of the throughput runs (default 32)")
    parser.add_argument("--streams", type=int, help="streams per latency run (default 300, quick 30)")
    parser.add_argument("--capacity-streams", type=int, help="concurrent slow streams (default 2000, quick 200)")
    parser.add_argument("--json-upstream", choices=("auto", "nginx", "gevent"), default="auto",
                        help="nginx (installed if missing) or the gevent upstream for non-streamed answers")
    parser.add_argument("--litellm", choices=("auto", "install", "off"), default="auto",
                        help="auto: measure LiteLLM if bench/.venv-litellm exists; install: create it first")
    parser.add_argument("--profile", action="store_true", help="also sample the gateway under c32 load with py-spy")
    parser.add_argument("--phases", action="store_true",
                        help="also time each request's phases at c32 (ETHERGATE_PHASE_LOG) in a separate run")
    parser.add_argument("--wait-quiet", type=float, help="seconds to wait for an idle machine (default 60, quick 0)")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs and databases after the run")
    args = parser.parse_args(argv)
    scenarios = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    unknown = scenarios - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args, scenarios


def make_plan(args) -> Plan:
    plan = Plan.quick() if args.quick else Plan()
    for name in ("duration", "connections", "streams", "capacity_streams"):
        if getattr(args, name) is not None:
            setattr(plan, name, getattr(args, name))
    return plan


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args, scenarios = parse_args(argv)
    plan = make_plan(args)
    open_files = limit_open_files()
    results = {"schema": 1, "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "command": shlex.join(["python", "-m", "bench.run", *argv]), "quick": args.quick,
               "scenarios": sorted(scenarios), "plan": plan.__dict__, "machine": machine.machine(),
               "versions": machine.versions({"wrk": wrk.wrk_version()}), "open_files_limit": open_files}
    need = plan.capacity_streams * 2 + 1000
    low, high = (int(p) for p in results["machine"]["ephemeral_ports"])
    if "capacity" in scenarios and open_files < need:
        results.setdefault("warnings", []).append(f"open-file limit {open_files} is below the {need} that run needs")
    if "capacity" in scenarios and high - low + 1 < need:
        # Each held stream uses two loopback connections from this range: client->gateway and gateway->upstream.
        results.setdefault("warnings", []).append(f"only {high - low + 1} ephemeral ports for {need} connections")
    if wrk.wrk_binary() is None and scenarios & {"nonstream", "multi", "litellm"}:
        print("bench: wrk is not installed: run scripts/install-system-deps.sh bench", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ethergate-bench-"))
    with ExitStack() as stack:
        bench = Bench(plan, workdir, stack, results)
        bench.log(f"work directory {workdir}")
        wait_for_quiet(args.wait_quiet if args.wait_quiet is not None else (0 if args.quick else 60), bench.log)
        failures = run_scenarios(bench, args, scenarios)
    if not args.keep_workdir and not failures:
        shutil.rmtree(workdir, ignore_errors=True)
    results["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["error"] = "; ".join(failures) or None
    results["workdir"] = str(workdir) if (args.keep_workdir or failures) else None
    results["targets"] = report.judge(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(report.summary(results))
    print(f"\nresults: {args.output}" + (f" (logs kept in {workdir})" if results["workdir"] else ""))
    return 1 if failures else 0


def run_scenarios(bench: Bench, args, scenarios: set[str]) -> list[str]:
    """Runs what was asked for; a scenario that fails is recorded and the others still run."""
    failures: list[str] = []

    def attempt(name: str, step) -> bool:
        try:
            step()
            return True
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
            message = f"{name}: {type(exc).__name__}: {exc}"
            failures.append(message)
            bench.log("FAILED " + message)
            return False

    need_json = bool(scenarios & {"nonstream", "multi", "litellm"})
    need_sse = bool(scenarios & {"stream", "capacity"})
    if not attempt("upstreams", lambda: bench.start_upstreams(args.json_upstream, need_json, need_sse)):
        return failures
    if not attempt("upstream self-check", lambda: bench.check_upstreams(need_json, "stream" in scenarios)):
        return failures
    tenant = []
    if scenarios & {"nonstream", "stream", "capacity"}:
        bench.log("preparing a fresh SQLite database")
        attempt("database", lambda: tenant.append(gw.prepare_database(f"sqlite:///{bench.workdir / 'bench.sqlite3'}")))
    if tenant and "nonstream" in scenarios:
        attempt("nonstream", lambda: bench.single_nonstream(tenant[0], args.profile, args.phases))
    if tenant and need_sse:
        attempt("stream", lambda: bench.single_stream(tenant[0], scenarios))
    if "multi" in scenarios:
        bench.log("starting PostgreSQL and Redis for the multi-worker run")
        attempt("multi", bench.multi)
    if "litellm" in scenarios and args.litellm != "off":
        from . import litellm
        attempt("litellm", lambda: bench.results.__setitem__(
            "litellm", litellm.measure(bench, install_missing=args.litellm == "install")))
    return failures


if __name__ == "__main__":
    sys.exit(main())
