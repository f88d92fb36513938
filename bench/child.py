"""Child processes the benchmark starts and always stops: each has a log file and is ended by its own pid."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class ChildFailed(RuntimeError):
    pass


class Child:
    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None, cwd: Path | None = None):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.env, self.cwd = env, cwd
        self.process: subprocess.Popen | None = None

    def start(self, stdout=None) -> "Child":
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                        stdout=stdout if stdout is not None else self._log, stderr=self._log)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def read_listening_url(self, timeout: float = 60) -> str:
        """The URL from the child's first stdout line "... listening on http://HOST:PORT"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline().decode(errors="replace")
            if "listening on" in line:
                return line.strip().rsplit(" ", 1)[-1]
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise ChildFailed(f"{self.name} did not start; log tail:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self._log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, child: Child, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise ChildFailed(f"{child.name} exited; log tail:\n{child.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    child.stop()
    raise ChildFailed(f"{child.name} did not listen on port {port} within {timeout:g} s")


def rss_kb(pid: int) -> int | None:
    """Resident memory of one process in KB (VmRSS), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def child_pids(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(p) for p in children.read().split()]
    except OSError:
        return []


def environ(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHERGATE_")}
    env.update(extra)
    return env
