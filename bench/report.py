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


# The targets, as ratios to references measured in the same run: they hold on any machine.
MIN_THROUGHPUT_VS_BARE = 0.8
MAX_ADDED_P50_OVER_BARE_MS = 0.5
MAX_TTFT_VS_BARE = 1.5
MIN_VS_LITELLM = 8.0
MAX_TAIL_RATIO = 3.0
MIN_MULTI_VS_SINGLE_PG = 1.6


def _ratio(numerator, denominator, places: int = 2) -> float | None:
    return round(numerator / denominator, places) if numerator is not None and denominator else None


def _errors(results: dict, *path) -> int:
    data = _get(results, *path) or {}
    return (data.get("error_count") or 0) + (data.get("non_2xx") or 0) + (data.get("errors") or 0)


def judge(results: dict) -> list[dict]:
    """One row per target: goal, measured value, the absolute figures behind it, and pass/fail (None: not run)."""
    rows = []

    def row(name, goal, unit, measured, passed, note=None, absolute=None):
        rows.append({"name": name, "goal": goal, "unit": unit, "measured": measured, "absolute": absolute,
                     "pass": None if measured is None or passed is None else passed, "note": note})

    rps, bare_rps = _get(results, "single", "c32", "rps"), _get(results, "bare", "c32", "rps")
    ratio = _ratio(rps, bare_rps)
    row("non-streamed throughput c32 vs bare pass-through", f">= {MIN_THROUGHPUT_VS_BARE} x", "x", ratio,
        ratio is not None and ratio >= MIN_THROUGHPUT_VS_BARE and _errors(results, "single", "c32") == 0,
        absolute=f"{_fmt(rps)} vs {_fmt(bare_rps)} req/s" if ratio is not None else None)
    p50, bare_p50 = _get(results, "single", "c1", "p50_ms"), _get(results, "bare", "c1", "p50_ms")
    added = round(p50 - bare_p50, 3) if p50 is not None and bare_p50 is not None else None
    row("added latency c1 p50 over bare pass-through", f"<= {MAX_ADDED_P50_OVER_BARE_MS} ms", "ms", added,
        added is not None and added <= MAX_ADDED_P50_OVER_BARE_MS and _errors(results, "single", "c1") == 0,
        absolute=f"{_fmt(p50)} vs {_fmt(bare_p50)} ms" if added is not None else None)
    ttft, bare_ttft = _get(results, "single", "stream", "ttft_ms", "p50"), _get(results, "bare", "stream", "ttft_ms",
                                                                                 "p50")
    ratio = _ratio(ttft, bare_ttft)
    row("time to first token p50 vs bare pass-through", f"<= {MAX_TTFT_VS_BARE} x", "x", ratio,
        ratio is not None and ratio <= MAX_TTFT_VS_BARE and _errors(results, "single", "stream") == 0,
        absolute=f"{_fmt(ttft)} vs {_fmt(bare_ttft)} ms" if ratio is not None else None)
    litellm = _get(results, "litellm", "c32", "rps")
    ratio = _ratio(rps, litellm, 1)
    row("non-streamed throughput c32 vs LiteLLM", f">= {MIN_VS_LITELLM:g} x", "x", ratio,
        ratio is not None and ratio >= MIN_VS_LITELLM,
        _get(results, "litellm", "skipped") and "LiteLLM not installed (--litellm install)",
        absolute=f"{_fmt(rps)} vs {_fmt(litellm)} req/s" if ratio is not None else None)
    p99, p50_c32 = _get(results, "single", "c32", "p99_ms"), _get(results, "single", "c32", "p50_ms")
    ratio = _ratio(p99, p50_c32, 1)
    row("tail at c32: p99 / p50", f"<= {MAX_TAIL_RATIO:g} x", "x", ratio,
        ratio is not None and ratio <= MAX_TAIL_RATIO,
        absolute=f"p99 {_fmt(p99)} ms, p50 {_fmt(p50_c32)} ms" if ratio is not None else None)
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
    multi, pg_single = _get(results, "multi", "c32", "rps"), _get(results, "multi", "single_c32", "rps")
    ratio = _ratio(multi, pg_single)
    row("2 gunicorn workers vs 1 process, same PostgreSQL + Redis", f">= {MIN_MULTI_VS_SINGLE_PG} x", "x", ratio,
        ratio is not None and ratio >= MIN_MULTI_VS_SINGLE_PG and _errors(results, "multi", "c32") == 0,
        absolute=f"{_fmt(multi)} vs {_fmt(pg_single)} req/s" if ratio is not None else None)
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
    bare_cpu = _get(results, "bare", "c32", "server_cpu_ms_per_request")
    if cpu and bare_cpu:
        lines.append(("bare pass-through CPU per request, c32", f"{bare_cpu} ms: the gateway adds "
                                                                 f"{round(cpu - bare_cpu, 3)} ms ({_ratio(cpu, bare_cpu)} x)"))
    rps = _get(results, "single", "c32", "rps")
    if rps is not None:
        lines.append(("non-streamed throughput, c32, 1 process, SQLite", f"{rps} req/s"))
    for run, pct in (("c1", "p50_ms"), ("c1", "p99_ms"), ("c32", "p50_ms"), ("c32", "p99_ms")):
        added = _added(results, "single", run, pct)
        if added is not None:
            lines.append((f"added latency over the upstream alone, {run}, {pct[:3]}", f"{added} ms"))
    ttft = _stream_added(results, "ttft_ms", "p50")
    if ttft is not None:
        lines.append(("time to first token added over the upstream alone, p50", f"{ttft} ms"))
    for run in ("stream", "stream_c32"):
        per, bare_per = (_get(results, who, run, "server_cpu_ms_per_stream") for who in ("single", "bare"))
        if per and bare_per:
            lines.append((f"CPU per stream ({run}), gateway vs bare", f"{per} vs {bare_per} ms"))
    ttft32, bare32 = (_get(results, who, "stream_c32", "ttft_ms", "p50") for who in ("single", "bare"))
    if ttft32 is not None and bare32:
        lines.append(("time to first token p50 at c32 vs bare", f"{ttft32} vs {bare32} ms ({_ratio(ttft32, bare32)} x)"))
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
    if multi and rps:
        lines.append(("2 workers on PostgreSQL vs 1 process on SQLite", f"{_ratio(multi, rps)} x"))
    lines.extend(multi_ceiling(results))
    litellm = _get(results, "litellm", "c32", "rps")
    if litellm is not None:
        lines.append((f"LiteLLM proxy {_get(results, 'litellm', 'version')}, c32", f"{litellm} req/s"))
    other = results.get("other_cpu_cores")
    if other:
        lines.append(("CPU used by other processes during runs (cores, max)", max(other.values())))
    return lines


def multi_ceiling(results: dict) -> list[tuple[str, str]]:
    """CPU milliseconds per request of each process role on PostgreSQL, and what they allow two workers.

    On one box the workers, PostgreSQL, Redis, the upstream and the load generator share the cores, so two
    workers can serve at most cores / (the sum of everyone's CPU per request): the ceiling of the ratio.
    """
    lines = []
    single, multi = _get(results, "multi", "single_c32"), _get(results, "multi", "c32")
    spent = {}
    for label, data in (("1 process", single), ("2 workers", multi)):
        roles = (data or {}).get("cpu_cores_by_role")
        if not roles or not data.get("rps"):
            continue
        spent[label] = {role: cores * 1000 / data["rps"] for role, cores in roles.items()}
        lines.append((f"CPU ms per request on PostgreSQL, {label}",
                       ", ".join(f"{role} {_fmt(round(ms, 3))}" for role, ms in spent[label].items())))
    cores = _get(results, "machine", "nproc")
    if "2 workers" in spent and single and cores:
        ceiling = int(cores) * 1000 / sum(spent["2 workers"].values())
        lines.append((f"2 workers' ceiling on {cores} cores at those costs",
                      f"{ceiling:.0f} req/s, {_ratio(ceiling, single['rps'])} x the 1-process run"))
    return lines


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def measurements_table(results: dict) -> list[list[str]]:
    runs = [("upstream direct", ("upstream", "nonstream")), ("bare pass-through", ("bare",)),
            ("gateway 1 proc SQLite", ("single",)),
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
    table = [["streamed", "conc", "streams", "TTFT p50", "TTFT p99", "gap p50", "gap p99", "errors", "CPU ms/stream"]]
    for label, path in (("upstream direct", ("upstream", "stream")), ("bare pass-through", ("bare", "stream")),
                        ("gateway 1 proc SQLite", ("single", "stream")), ("bare pass-through", ("bare", "stream_c32")),
                        ("gateway 1 proc SQLite", ("single", "stream_c32"))):
        data = _get(results, *path)
        if data:
            table.append([label, str(data.get("concurrency", 1)), str(data["count"]), _fmt(data["ttft_ms"]["p50"]),
                          _fmt(data["ttft_ms"]["p99"]), _fmt(data["gap_ms"]["p50"]), _fmt(data["gap_ms"]["p99"]),
                          str(data["errors"]), _fmt(data.get("server_cpu_ms_per_stream"))])
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
    targets = [["target", "goal", "measured", "absolute (gateway vs reference)", "result"]]
    for row in results["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "not run" if row["measured"] is None else "unclear"}[row["pass"]]
        measured = "-" if row["measured"] is None else f"{_fmt(row['measured'])} {row['unit']}"
        if row.get("note") and row["measured"] is not None:
            measured += f" ({row['note']})"
        targets.append([row["name"], row["goal"], measured, row.get("absolute") or "-", verdict])
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
    phases = results.get("phases")
    if phases and phases.get("requests"):
        table = [["phases at c32, ms", "p50", "p90", "p99", "max", "slowest 1%: p50"]]
        for name, stats in phases["all"].items():
            table.append([name, *(_fmt(stats[k]) for k in ("p50", "p90", "p99", "p100")),
                          _fmt(phases["slowest_1pct"][name]["p50"])])
        parts += [render(table), f"(server side, from the request line to the last byte; {phases['requests']} "
                                 f"requests; the client saw p50 {phases['client']['p50_ms']} ms, p99 "
                                 f"{phases['client']['p99_ms']} ms)", ""]
    for name, value in info(results):
        parts.append(f"{name}: {value}")
    for warning in results.get("warnings", []):
        parts.append(f"WARNING: {warning}")
    return "\n".join(parts)
