"""Live servers forked from one process that has already imported the app, instead of started cold.

A cold `python wsgi.py` spends about a second importing gevent, Flask, SQLAlchemy, Alembic and the app
before it reads its settings; the suite starts over a hundred of them. One fork server per test process
does those imports once. Each server it forks then runs wsgi.py as its own `__main__`, with its own
environment, working directory, arguments and output, exactly as the command would: the settings are
read, the app created, the socket bound and the sweepers started in the child, after the fork.

The test process talks to the fork server over a socket pair: a request carries the command (as JSON)
and the child's stdout and stderr (as file descriptors); the answer is the child's pid. The fork server
reaps its children and leaves each exit status in a file named by pid, which `ForkedProcess` reads, so
tests keep Popen's poll(), wait(), returncode, send_signal(), terminate() and kill().
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Read by libraries as they are imported, which the fork server has already done with its own environment.
IMPORT_TIME_SETTINGS = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir", "GEVENT_", "PYTHON")

# As wsgi.py does: gevent patches the standard library before anything else is imported.
BOOT = ("from gevent import monkey; monkey.patch_all(); import sys; from tests.server_forks import main; "
        "main(int(sys.argv[1]), sys.argv[2])")


class ForkedProcess:
    """The Popen methods the tests use, for a server forked by the fork server (not our own child)."""

    def __init__(self, pid: int, status_dir: Path, stdout):
        self.pid, self.status_path, self.stdout = pid, status_dir / str(pid), stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self.status_path.exists():
            self.returncode = int(self.status_path.read_text())
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["wsgi.py"], timeout)
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """One per test process, started on first use; `can_fork` says whether a server's environment allows it."""

    def __init__(self, status_dir: Path):
        self.status_dir, self.env = status_dir, dict(os.environ)
        self.sock, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.process = subprocess.Popen([sys.executable, "-c", BOOT, str(child_end.fileno()), str(status_dir)],
                                        cwd=ROOT, pass_fds=[child_end.fileno()], stdin=subprocess.DEVNULL)
        child_end.close()
        self.reader = self.sock.makefile("rb")
        if self.reader.readline().strip() != b"ready":
            raise RuntimeError("the fork server did not start")

    def can_fork(self, env: dict) -> bool:
        names = {name for name in {*env, *self.env} if name.startswith(IMPORT_TIME_SETTINGS)}
        return all(env.get(name) == self.env.get(name) for name in names)

    def spawn(self, args: list[str], env: dict, stderr) -> ForkedProcess:
        """Fork a server; `stderr` is a file to write to, or subprocess.DEVNULL."""
        read_end, write_end = os.pipe()
        own_err = not hasattr(stderr, "fileno")
        err_fd = os.open(os.devnull, os.O_WRONLY) if own_err else stderr.fileno()
        try:
            request = json.dumps({"args": args, "env": env, "cwd": str(ROOT)}).encode() + b"\n"
            socket.send_fds(self.sock, [request], [write_end, err_fd])
            pid = int(self.reader.readline())
        finally:
            os.close(write_end)
            if own_err:
                os.close(err_fd)
        return ForkedProcess(pid, self.status_dir, os.fdopen(read_end, "rb"))

    def close(self) -> None:
        self.sock.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.status_dir, ignore_errors=True)


_server: ForkServer | None = None


def fork_server() -> ForkServer | None:
    """This test process's fork server, started on first use; None when ETHERGATE_TEST_COLD_SERVERS is set."""
    global _server
    if os.environ.get("ETHERGATE_TEST_COLD_SERVERS"):
        return None
    if _server is None:
        import atexit
        import tempfile
        _server = ForkServer(Path(tempfile.mkdtemp(prefix="eg-forks-")))
        atexit.register(_server.close)
    return _server


def _preload() -> None:
    """Every module of the app and the gevent server (BOOT has patched the standard library); nothing is
    created or started."""
    import pkgutil

    import gevent.pool  # noqa: F401
    import gevent.pywsgi  # noqa: F401

    import ethergate
    for module in pkgutil.walk_packages(ethergate.__path__, "ethergate."):
        __import__(module.name)


def _run_child(request: dict, out_fd: int, err_fd: int, control_fd: int) -> None:
    """In the forked child: become `python wsgi.py ARGS` with the request's environment, and never return."""
    code = 1
    try:
        import gevent
        gevent.reinit()  # a fresh event loop for this process
        os.close(control_fd)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["wsgi.py", *request["args"]]
        sys.path[0] = request["cwd"]
        import runpy
        try:
            runpy.run_path(os.path.join(request["cwd"], "wsgi.py"), run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def main(control_fd: int, status_dir: str) -> None:
    _preload()
    from gevent import monkey
    fork, waitpid = monkey.get_original("os", ("fork", "waitpid"))
    select = monkey.get_original("select", "select")
    # The standard library's blocking socket: no event loop ever runs in the fork server.
    control = monkey.get_original("socket", "socket")(fileno=control_fd)
    control.sendall(b"ready\n")
    while True:
        readable, _, _ = select([control_fd], [], [], 0.05)
        _reap(waitpid, Path(status_dir))
        if not readable:
            continue
        message, fds, _flags, _addr = socket.recv_fds(control, 1 << 20, 2)
        if not message:
            break
        pid = fork()
        if pid == 0:
            _run_child(json.loads(message), fds[0], fds[1], control_fd)
        for fd in fds:
            os.close(fd)
        control.sendall(b"%d\n" % pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _reap(waitpid, Path(status_dir)) is not None:
        time.sleep(0.05)


def _reap(waitpid, status_dir: Path):
    """Record every exited child's status as Popen's returncode would give it; None once none are left."""
    while True:
        try:
            pid, status = waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return True
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        partial = status_dir / f".{pid}"
        partial.write_text(str(code))
        partial.rename(status_dir / str(pid))
