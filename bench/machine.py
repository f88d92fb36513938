"""What the numbers were measured on: the machine, the versions, and how busy other processes kept the CPUs."""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("flask", "werkzeug", "gevent", "greenlet", "sqlalchemy", "requests", "urllib3", "gunicorn", "psycopg",
            "redis")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> dict:
    cpu_model = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    meminfo = {}
    with open("/proc/meminfo") as lines:
        for line in lines:
            name, _, value = line.partition(":")
            meminfo[name] = value.strip()
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": cpu_model, "memory_total": meminfo.get("MemTotal"),
            "kernel": platform.release(), "ephemeral_ports": Path("/proc/sys/net/ipv4/ip_local_port_range")
            .read_text().split(), "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3]}


def versions(extra: dict) -> dict:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    found.update(extra)
    try:
        found["ethergate_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                                   capture_output=True, timeout=10).stdout.strip() or None
    except OSError:
        found["ethergate_commit"] = None
    return found


def _busy_ticks() -> int:
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _own_ticks(roots: tuple[int, ...]) -> int:
    """CPU ticks of this process, the other roots, every live descendant, and descendants already reaped."""
    parents, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                parents[int(entry)] = int(fields[1])
                ticks[int(entry)] = int(fields[11]) + int(fields[12])
    mine = {os.getpid(), *(pid for pid in roots if pid in parents)}
    frontier = list(mine)
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in mine:
                mine.add(pid)
                frontier.append(pid)
    reaped = os.times()
    return sum(ticks.get(pid, 0) for pid in mine) + round((reaped.children_user + reaped.children_system) * CLOCK_TICKS)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


class CpuMeter:
    """Share of the machine's CPU used by processes the benchmark did not start, over one measured span."""

    def __init__(self, roots: tuple[int, ...] = ()):
        self.roots = roots  # processes the benchmark uses but did not fork, such as a daemonized PostgreSQL
        self.busy, self.own = _busy_ticks(), _own_ticks(roots)

    def other_cores(self, seconds: float) -> float:
        """Average number of cores that other processes kept busy since the meter started."""
        busy, own = _busy_ticks() - self.busy, _own_ticks(self.roots) - self.own
        return round(max(busy - own, 0) / CLOCK_TICKS / seconds, 2) if seconds > 0 else 0.0


# Processes the benchmark talks to, by the name the kernel knows them by; the gateway is given by pid.
ROLES = {"postgres": "postgresql", "redis-server": "redis", "nginx": "upstream", "wrk": "load generator"}


def ticks_by_role(gateway_pids: list[int]) -> dict[str, int]:
    """CPU ticks used so far, by role: the gateway's processes, PostgreSQL, Redis, nginx, and wrk (running or
    already reaped by this process)."""
    gateway = set(gateway_pids)
    found: dict[str, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        role = "gateway" if pid in gateway else ROLES.get(comm)
        fields = _stat_fields(pid) if role else None
        if fields:
            found[role] = found.get(role, 0) + int(fields[11]) + int(fields[12])
    reaped = os.times()  # the measured wrk is the only child of this process that exits during a run
    found["load generator"] = found.get("load generator", 0) + round(
        (reaped.children_user + reaped.children_system) * CLOCK_TICKS)
    return found


class RoleMeter:
    """Cores each role kept busy over one measured span: where a multi-process run's CPU goes."""

    def __init__(self, gateway_pids: list[int]):
        self.gateway_pids = gateway_pids
        self.before = ticks_by_role(gateway_pids)

    def cores(self, seconds: float) -> dict[str, float]:
        after = ticks_by_role(self.gateway_pids)
        return {role: round((ticks - self.before.get(role, 0)) / CLOCK_TICKS / seconds, 2)
                for role, ticks in sorted(after.items()) if seconds > 0}
