"""Closed-loop HTTP load with wrk: POST bodies from a Lua script, numbers from wrk's --latency report."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

# wrk's done() hook reports what its text output rounds or leaves out: exact counts and error kinds.
LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d "
        .. "p50_us=%d p90_us=%d p99_us=%d p999_us=%d mean_us=%.1f max_us=%d\\n",
        summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
        latency.mean, latency.max))
end
"""

UNITS_US = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0, "m": 60_000_000.0}


class WrkError(RuntimeError):
    pass


@dataclass
class WrkResult:
    connections: int
    threads: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p75_ms: float | None
    p90_ms: float
    p99_ms: float
    p999_ms: float
    mean_ms: float
    max_ms: float
    errors: dict = field(default_factory=dict)
    non_2xx: int = 0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["error_count"] = self.error_count
        return data


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    binary = wrk_binary()
    if binary is None:
        return "missing"
    result = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    return (result.stdout or result.stderr).strip().splitlines()[0] if (result.stdout or result.stderr) else "?"


def write_script(directory: Path, name: str, body: bytes, token: str) -> Path:
    text = body.decode()
    if "]==]" in text or '"' in token:
        raise ValueError("body or token cannot be embedded in the wrk script")
    path = directory / f"{name}.lua"
    path.write_text(LUA.format(body=text, token=token))
    return path


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not match:
        raise WrkError(f"unreadable wrk latency {value!r}")
    return float(match.group(1)) * UNITS_US[match.group(2)] / 1000


def parse_output(text: str, connections: int, threads: int) -> WrkResult:
    """Numbers from wrk's --latency report plus the BENCH line of the Lua done() hook."""
    bench = re.search(r"^BENCH (.*)$", text, re.M)
    if bench is None:
        raise WrkError(f"wrk printed no summary:\n{text[-2000:]}")
    fields = {k: float(v) for k, v in (pair.split("=") for pair in bench.group(1).split())}
    percentiles = {int(p): to_ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", text, re.M)}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    duration_s = fields["duration_us"] / 1e6
    errors = {kind: int(fields[kind]) for kind in ("connect", "read", "write", "status", "timeout")}
    return WrkResult(
        connections=connections, threads=threads, duration_s=round(duration_s, 3), requests=int(fields["requests"]),
        rps=round(fields["requests"] / duration_s, 1) if duration_s else 0.0,
        p50_ms=percentiles.get(50, fields["p50_us"] / 1000), p75_ms=percentiles.get(75),
        p90_ms=percentiles.get(90, fields["p90_us"] / 1000), p99_ms=percentiles.get(99, fields["p99_us"] / 1000),
        p999_ms=fields["p999_us"] / 1000, mean_ms=round(fields["mean_us"] / 1000, 3), max_ms=fields["max_us"] / 1000,
        errors=errors, non_2xx=int(non_2xx.group(1)) if non_2xx else 0)


def run(url: str, script: Path, connections: int, duration_s: float, threads: int | None = None,
        timeout_s: int = 10) -> WrkResult:
    binary = wrk_binary()
    if binary is None:
        raise WrkError("wrk is not installed (scripts/install-system-deps.sh bench)")
    threads = max(1, min(threads or 2, connections))
    argv = [binary, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s", f"--timeout={timeout_s}s",
            "--latency", "-s", str(script), url]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 60)
    except subprocess.TimeoutExpired:
        raise WrkError(f"wrk did not finish: {' '.join(argv)}") from None
    if result.returncode != 0:
        raise WrkError(f"wrk failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return parse_output(result.stdout, connections, threads)
