"""The issue's performance targets, judged against a run's results, and the tables printed after a run."""
from __future__ import annotations

TARGET_RPS = 600
# The upstream counts as fast enough when it serves this many times the gateway's throughput target.
UPSTREAM_HEADROOM = 5


def _get(results: dict, *path):
    node = results
    for step in path:
        if not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return node


def _added(results: dict, scenario: str, run: str, metric: str) -> float | None:
    gateway, direct = _get(results, scenario, run, metric), _get(results, "upstream", "nonstream", run, metric)
    return None if gateway is None or direct is None else round(gateway - direct, 3)


def _stream_added(results: dict, metric: str, pct: str) -> float | None:
    gateway = _get(results, "single", "stream", metric, pct)
    direct = _get(results, "upstream", "stream", metric, pct)
    return None if gateway is None or direct is None else round(gateway - direct, 3)


def judge(results: dict) -> list[dict]:
    """One row per target: goal, measured value, and pass/fail (None when the scenario did not run)."""
    rows = []

    def row(name, goal, unit, measured, passed, note=None):
        rows.append({"name": name, "goal": goal, "unit": unit, "measured": measured,
                     "pass": None if measured is None or passed is None else passed, "note": note})

    rps = _get(results, "single", "c32", "rps")
    row("non-streamed throughput, c32, 1 process, SQLite", f">= {TARGET_RPS} req/s", "req/s", rps,
        rps is not None and rps >= TARGET_RPS and _get(results, "single", "c32", "error_count") == 0)
    for pct, limit in (("p50_ms", 1.5), ("p99_ms", 5.0)):
        added = _added(results, "single", "c1", pct)
        noisy = added is not None and added < 0
        row(f"added latency, c1, {pct[:3]}", f"<= {limit} ms", "ms", added,
            None if noisy else added is not None and added <= limit,
            "the direct run was slower: other load on the machine; rerun when it is idle" if noisy else None)
    ttft = _stream_added(results, "ttft_ms", "p50")
    row("time to first token added, p50", "<= 2 ms", "ms", ttft,
        ttft is not None and ttft <= 2 and _get(results, "single", "stream", "errors") == 0)
    capacity = _get(results, "single", "capacity")
    if capacity and not capacity.get("skipped"):
        wanted = capacity["streams"]
        held = capacity["max_open"]
        row(f"{wanted} concurrent slow streams, 1 process, no errors", f"{wanted} open, 0 errors", "open", held,
            held >= wanted and capacity["errors"] == 0, f"{capacity['errors']} errors")
        per_stream = capacity.get("kb_per_stream")
        row("memory per held stream (VmRSS)", "<= 100 KB", "KB", per_stream,
            per_stream is not None and per_stream <= 100)
    else:
        row("2000 concurrent slow streams, 1 process, no errors", "2000 open, 0 errors", "open", None, None)
        row("memory per held stream (VmRSS)", "<= 100 KB", "KB", None, None)
    multi = _get(results, "multi", "c32", "rps")
    ratio = round(multi / rps, 2) if multi and rps else None
    row("2 gunicorn gevent workers, PostgreSQL + Redis, vs 1 process SQLite", ">= 1.6 x", "x", ratio,
        ratio is not None and ratio >= 1.6 and _get(results, "multi", "c32", "error_count") == 0,
        f"{multi} req/s" if multi else None)
    return rows


def info(results: dict) -> list[tuple[str, object]]:
    """Figures without a target that explain the ones with one."""
    lines = []
    direct = _get(results, "upstream", "nonstream", "c32", "rps")
    if direct is not None:
        lines.append((f"upstream alone ({_get(results, 'upstream', 'nonstream', 'kind')}), c32", f"{direct} req/s"))
    cpu = _get(results, "single", "c32", "server_cpu_ms_per_request")
    if cpu:
        lines.append(("gateway CPU per request, c32 (1 process, SQLite)",
                      f"{cpu} ms, so at most ~{round(1000 / cpu)} req/s with one core to itself"))
    for pct in ("p50_ms", "p99_ms"):
        added = _added(results, "single", "c32", pct)
        if added is not None:
            lines.append((f"added latency, c32, {pct[:3]}", f"{added} ms"))
    gap = _stream_added(results, "gap_ms", "p99")
    if gap is not None:
        lines.append(("inter-chunk delay added, p99", f"{gap} ms"))
    ttft99 = _stream_added(results, "ttft_ms", "p99")
    if ttft99 is not None:
        lines.append(("time to first token added, p99", f"{ttft99} ms"))
    pg_single = _get(results, "multi", "single_c32", "rps")
    multi = _get(results, "multi", "c32", "rps")
    if pg_single:
        lines.append(("1 process on PostgreSQL + Redis, c32", f"{pg_single} req/s"))
        if multi:
            lines.append(("2 workers vs 1 process, both PostgreSQL", f"{round(multi / pg_single, 2)} x"))
    litellm = _get(results, "litellm", "c32", "rps")
    if litellm is not None:
        lines.append((f"LiteLLM proxy {_get(results, 'litellm', 'version')}, c32", f"{litellm} req/s"))
    other = results.get("other_cpu_cores")
    if other:
        lines.append(("CPU used by other processes during runs (cores, max)", max(other.values())))
    return lines


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def measurements_table(results: dict) -> list[list[str]]:
    runs = [("upstream direct", ("upstream", "nonstream")), ("gateway 1 proc SQLite", ("single",)),
            ("gunicorn 2w PostgreSQL", ("multi",)), ("1 proc PostgreSQL", ("multi",)), ("LiteLLM", ("litellm",))]
    table = [["non-streamed", "conc", "req/s", "p50 ms", "p99 ms", "errors", "server CPU ms/req"]]
    for label, path in runs:
        for run in ("c1", "c32") if label != "1 proc PostgreSQL" else ("single_c32",):
            data = _get(results, *path, run)
            if data:
                table.append([label, str(data["connections"]), _fmt(data["rps"]), _fmt(data["p50_ms"]),
                              _fmt(data["p99_ms"]), str(data["error_count"] + data.get("non_2xx", 0)),
                              _fmt(data.get("server_cpu_ms_per_request"))])
    return table


def streams_table(results: dict) -> list[list[str]]:
    table = [["streamed", "streams", "TTFT p50", "TTFT p99", "gap p50", "gap p99", "errors"]]
    for label, path in (("upstream direct", ("upstream", "stream")), ("gateway 1 proc SQLite", ("single", "stream"))):
        data = _get(results, *path)
        if data:
            table.append([label, str(data["count"]), _fmt(data["ttft_ms"]["p50"]), _fmt(data["ttft_ms"]["p99"]),
                          _fmt(data["gap_ms"]["p50"]), _fmt(data["gap_ms"]["p99"]), str(data["errors"])])
    return table


ROLE_COLUMNS = ("gateway", "postgresql", "redis", "upstream", "load generator")


def cpu_table(results: dict) -> list[list[str]]:
    """Cores each process kept busy during the c32 runs: what bounds throughput on a shared 2-core box."""
    table = [["CPU cores, c32", *ROLE_COLUMNS, "total"]]
    for label, path in (("gateway 1 proc SQLite", ("single", "c32")), ("1 proc PostgreSQL", ("multi", "single_c32")),
                        ("gunicorn 2w PostgreSQL", ("multi", "c32"))):
        roles = _get(results, *path, "cpu_cores_by_role")
        if roles:
            table.append([label, *(_fmt(roles.get(role, 0.0)) for role in ROLE_COLUMNS),
                          _fmt(round(sum(roles.values()), 2))])
    return table


def render(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
             for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(results: dict) -> str:
    machine = results["machine"]
    parts = [f"EtherGate benchmark - {machine['nproc']} x {machine['cpu_model']}, {machine['memory_total']}, "
             f"Python {results['versions']['python']}, commit {results['versions'].get('ethergate_commit')}",
             f"command: {results['command']}", ""]
    targets = [["target", "goal", "measured", "result"]]
    for row in results["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "not run" if row["measured"] is None else "unclear"}[row["pass"]]
        measured = "-" if row["measured"] is None else f"{_fmt(row['measured'])} {row['unit']}"
        if row.get("note") and row["measured"] is not None:
            measured += f" ({row['note']})"
        targets.append([row["name"], row["goal"], measured, verdict])
    parts += [render(targets), ""]
    if len(measurements_table(results)) > 1:
        parts += [render(measurements_table(results)), ""]
    if len(cpu_table(results)) > 1:
        parts += [render(cpu_table(results)), ""]
    if len(streams_table(results)) > 1:
        parts += [render(streams_table(results)), ""]
    capacity = _get(results, "single", "capacity")
    if capacity and not capacity.get("skipped"):
        parts.append(f"capacity: {capacity['max_open']}/{capacity['streams']} streams open at once, "
                     f"{capacity['errors']} errors, RSS {capacity['rss_before_kb']} KB before, "
                     f"{capacity['rss_peak_kb']} KB while held, {capacity['rss_after_kb']} KB after; "
                     f"chunk gap p99 {capacity['gap_ms_observed']['p99']} ms (upstream: every {capacity['gap_ms']} ms)")
    for name, value in info(results):
        parts.append(f"{name}: {value}")
    for warning in results.get("warnings", []):
        parts.append(f"WARNING: {warning}")
    return "\n".join(parts)
