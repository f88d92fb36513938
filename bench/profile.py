"""Where the gateway spends its CPU under c32 load: py-spy samples the running process from outside.

py-spy lives in bench/.venv-profile (pinned in bench/requirements-profile.txt), never in the project's venv.
"""
from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv-profile"
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
AREAS = (("ethergate/", "ethergate"), ("sqlalchemy/", "sqlalchemy"), ("werkzeug/", "werkzeug"), ("flask", "flask"),
         ("gevent/", "gevent"), ("urllib3/", "requests+urllib3"), ("requests/", "requests+urllib3"),
         ("http/client", "requests+urllib3"), ("json/", "json"), ("sqlite3/", "sqlite3"), ("redis/", "redis"),
         ("psycopg/", "psycopg"), ("logging/", "logging"))


def ensure_py_spy(log) -> Path:
    binary = VENV / "bin" / "py-spy"
    if not binary.exists():
        log("installing py-spy into bench/.venv-profile")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r",
                        str(BENCH / "requirements-profile.txt")], check=True, timeout=600)
    return binary


def short_file(path: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3." else tail
    return path


def frame_label(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame)
    if not match:
        return frame, ""
    file = short_file(match.group("file"))
    line = f":{match.group('line')}" if match.group("line") else ""
    return f"{match.group('function')} ({file}{line})", file


def area(file: str) -> str:
    for marker, name in AREAS:
        if marker in file:
            return name
    return "other"


def summarize(raw: str, top: int = 15) -> dict:
    """Own time per function (the sampled leaf), inclusive time per ethergate function, own time per library."""
    own, inclusive, areas = Counter(), Counter(), Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [frame_label(f) for f in stack.split(";")]
        leaf, leaf_file = frames[-1]
        own[leaf] += samples
        areas[area(leaf_file)] += samples
        for label in {label for label, file in frames if file.startswith("ethergate/")}:
            inclusive[label] += samples

    def table(counter: Counter) -> list[dict]:
        return [{"frame": label, "samples": n, "pct": round(100 * n / total, 1)}
                for label, n in counter.most_common(top)]

    return {"samples": total, "top_own": table(own), "top_inclusive_ethergate": table(inclusive),
            "own_by_library": table(areas)}


def profile_under_load(pid: int, load, duration: float, workdir: Path, results_dir: Path, log) -> dict:
    """Sample `pid` for `duration` seconds while `load(seconds)` keeps it busy; the raw stacks go to results_dir."""
    binary = ensure_py_spy(log)
    raw_path = workdir / "profile-raw.txt"
    seconds = max(2, int(duration))
    spy = subprocess.Popen([str(binary), "record", "-p", str(pid), "-d", str(seconds), "-r", "100", "-F",
                            "-f", "raw", "-o", str(raw_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    runner = threading.Thread(target=load, args=(seconds + 2,), daemon=True)
    runner.start()
    try:
        _, stderr = spy.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, stderr = spy.communicate()
    runner.join(timeout=seconds + 60)
    if spy.returncode != 0 or not raw_path.exists():
        return {"error": f"py-spy failed ({spy.returncode}): {stderr.decode(errors='replace')[-1000:]}"}
    raw = raw_path.read_text()
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "profile-raw.txt").write_text(raw)
    summary = summarize(raw)
    log(f"profile: {summary['samples']} samples; top own: "
        + ", ".join(f"{row['frame']} {row['pct']}%" for row in summary["top_own"][:3]))
    return {"tool": "py-spy record -r 100 -F -f raw", "seconds": seconds, "raw": "bench/results/profile-raw.txt",
            **summary}
