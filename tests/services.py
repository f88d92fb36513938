"""Throwaway PostgreSQL / Redis servers for the test suite (stdlib only).

Used by pytest session fixtures::

    pg = start_postgres(tmp_path_factory.mktemp("pg"))
    url = pg.create_database("test_models")   # postgresql://postgres@127.0.0.1:PORT/test_models
    ...
    pg.stop()

    rd = start_redis(tmp_path_factory.mktemp("redis"))
    rd.url        # redis://127.0.0.1:PORT/0
    rd.kill()     # SIGKILL, to test "Redis down"
    rd.restart()  # same port again

Servers listen on 127.0.0.1 only, on a free port, with all state inside
``base_dir``. The binaries come from Debian packages; install them with
``scripts/install-system-deps.sh db`` (``browser`` for chromium).

Environment overrides, to reuse servers a developer already runs:

``ETHERGATE_TEST_POSTGRES_URL``
    Admin URL of an existing server (a role allowed to CREATE DATABASE).
    ``start_postgres`` then only creates databases on it (via ``psql``)
    and ``stop()`` drops those databases but never stops the server.
``ETHERGATE_TEST_REDIS_URL``
    URL of an existing Redis; ``stop()`` does nothing and ``kill()`` /
    ``restart()`` raise :class:`ServiceError` (``.external`` is True, so
    tests of "Redis down" behaviour should skip).
``ETHERGATE_TEST_CHROMIUM``
    Path of the Chromium executable to use.

PostgreSQL refuses to run as root. When the tests run as root, initdb and
pg_ctl run as the ``postgres`` system user (created if missing),
``base_dir`` is chowned to it and its ancestors get the ``o+x`` bit so that
user can reach it.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

__all__ = [
    "ServiceError",
    "ServiceUnavailable",
    "PostgresService",
    "RedisService",
    "free_port",
    "find_chromium",
    "find_pg_bindir",
    "find_redis_server",
    "start_postgres",
    "start_redis",
    "redis_ping",
]

POSTGRES_URL_ENV = "ETHERGATE_TEST_POSTGRES_URL"
REDIS_URL_ENV = "ETHERGATE_TEST_REDIS_URL"
CHROMIUM_ENV = "ETHERGATE_TEST_CHROMIUM"

HOST = "127.0.0.1"
INSTALL_HINT = "scripts/install-system-deps.sh"

# Unix socket paths are limited to 108 bytes (including the terminating NUL).
_MAX_SOCKET_PATH = 100


class ServiceError(RuntimeError):
    """A test service failed to start, stop or answer."""


class ServiceUnavailable(ServiceError):
    """The binaries needed for a service are not installed."""


# --------------------------------------------------------------------------
# helpers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail(path: Path | str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            data = f.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(data.splitlines()[-lines:]) or "(log is empty)"


def _clean_env(**extra: str) -> dict[str, str]:
    """os.environ without libpq's PG* variables, so they cannot redirect us."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LC_ALL", "C")
    env.update(extra)
    return env


def _is_executable(path: str | None) -> bool:
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def find_pg_bindir() -> str | None:
    """Directory holding initdb/pg_ctl/postgres/psql, newest version first."""

    def version_key(d: str) -> tuple:
        v = Path(d).parent.name
        return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)
    for tool in ("pg_config", "initdb"):
        found = shutil.which(tool)
        if not found:
            continue
        if tool == "pg_config":
            try:
                out = subprocess.run(
                    [found, "--bindir"], capture_output=True, text=True, timeout=10
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                out = ""
            if out:
                candidates.append(out)
        else:
            candidates.append(str(Path(os.path.realpath(found)).parent))
    for d in candidates:
        if all(_is_executable(os.path.join(d, t)) for t in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _find_psql() -> str | None:
    bindir = find_pg_bindir()
    if bindir and _is_executable(os.path.join(bindir, "psql")):
        return os.path.join(bindir, "psql")
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if _is_executable(os.path.join(d, "psql")):
            return os.path.join(d, "psql")
    return shutil.which("psql")


def find_redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    return "/usr/bin/redis-server" if _is_executable("/usr/bin/redis-server") else None


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override if _is_executable(override) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    for path in ("/usr/bin/chromium", "/usr/lib/chromium/chromium"):
        if _is_executable(path):
            return path
    return None


# --------------------------------------------------------------------------
# running PostgreSQL as an unprivileged user


class _RunAs:
    """Run commands as the current user, or as ``postgres`` when root."""

    def __init__(self, username: str | None):
        self.username = username
        if username is None:
            self.uid, self.gid = os.getuid(), os.getgid()
        else:
            pw = pwd.getpwnam(username)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def kwargs(self) -> dict:
        if self.username is None:
            return {}
        # Equivalent of `setpriv --reuid --regid --clear-groups`, done by
        # subprocess itself (no PAM, no external tool).
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def prepare_dir(self, path: Path) -> None:
        """Create ``path`` owned by the run-as user and reachable by it."""
        path.mkdir(parents=True, exist_ok=True)
        if self.username is None:
            return
        os.chown(path, self.uid, self.gid)
        # Every ancestor must be traversable (pytest's /tmp/pytest-of-root
        # is 0700, for instance).
        for parent in path.resolve().parents:
            st = parent.stat()
            if st.st_uid == self.uid and st.st_mode & stat.S_IXUSR:
                continue
            if st.st_mode & stat.S_IXOTH:
                continue
            os.chmod(parent, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def _pg_system_user() -> str | None:
    """None when not root; otherwise the system user PostgreSQL runs as."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("ETHERGATE_TEST_POSTGRES_OS_USER", "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError:
        nologin = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
        proc = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", nologin, name],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise ServiceError(
                f"running as root and cannot create system user {name!r} for PostgreSQL: "
                f"{proc.stderr.strip()}"
            )
    return name


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_conf(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _url_with_db(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(
        parts._replace(path="/" + urllib.parse.quote(dbname, safe=""))
    )


_DBNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")


# --------------------------------------------------------------------------
# PostgreSQL


class PostgresService:
    """A running PostgreSQL server (throwaway, or external via env var).

    ``url`` is the admin URL (database ``postgres``); use
    :meth:`create_database` to get an empty database of your own.
    """

    def __init__(self, *, url: str, host: str, port: int, user: str,
                 external: bool = False, base_dir: Path | None = None,
                 bindir: str | None = None, run_as: _RunAs | None = None,
                 socket_dir: Path | None = None, own_socket_dir: bool = False):
        self.url = url
        self.admin_url = url
        self.host = host
        self.port = port
        self.user = user
        self.external = external
        self.base_dir = base_dir
        self.data_dir = base_dir / "data" if base_dir else None
        self.log_file = base_dir / "postgres.log" if base_dir else None
        self.socket_dir = socket_dir
        self._own_socket_dir = own_socket_dir
        self._bindir = bindir
        self._run_as = run_as
        self._psql = _find_psql()
        self._created: list[str] = []
        self._stopped = False

    def __repr__(self) -> str:
        kind = "external" if self.external else "local"
        return f"<PostgresService {kind} {self.url}>"

    def __enter__(self) -> "PostgresService":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- SQL through psql -------------------------------------------------

    def psql(self, sql: str, *, dbname: str | None = None, timeout: float = 60) -> str:
        """Run SQL with psql against this server; returns stdout (unaligned)."""
        if not self._psql:
            raise ServiceUnavailable(
                f"psql not found; install the PostgreSQL client ({INSTALL_HINT} db)"
            )
        url = _url_with_db(self.admin_url, dbname) if dbname else self.admin_url
        try:
            proc = subprocess.run(
                [self._psql, "--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
                 "--set", "ON_ERROR_STOP=1", "--dbname", url, "--command", sql],
                capture_output=True, text=True, timeout=timeout,
                env=_clean_env(PGCONNECT_TIMEOUT="10"), stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(f"psql timed out after {timeout}s running {sql!r}") from exc
        if proc.returncode != 0:
            raise ServiceError(
                f"psql failed (exit {proc.returncode}) running {sql!r} on {self}: "
                f"{proc.stderr.strip()}"
            )
        return proc.stdout

    def create_database(self, name: str, *, template: str | None = None,
                        replace: bool = True) -> str:
        """Create an empty database ``name`` and return its URL.

        ``template`` clones another database (e.g. one already migrated).
        ``replace`` drops a leftover database of that name first (useful on a
        reused external server).
        """
        if not _DBNAME_RE.match(name):
            raise ValueError(f"unsupported database name {name!r}")
        if self._stopped:
            raise ServiceError(f"{self} is stopped")
        if replace:
            self.psql(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
        sql = f"CREATE DATABASE {_quote_ident(name)}"
        if template:
            sql += f" TEMPLATE {_quote_ident(template)}"
        self.psql(sql)
        if name not in self._created:
            self._created.append(name)
        return _url_with_db(self.admin_url, name)

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
        if name in self._created:
            self._created.remove(name)

    def database_url(self, name: str) -> str:
        return _url_with_db(self.admin_url, name)

    # -- lifecycle ----------------------------------------------------------

    def _pg_ctl(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        assert self._bindir and self.base_dir and self._run_as
        # Output goes to a file, not a pipe: the postmaster pg_ctl forks must
        # not keep a pipe of ours open.
        out_path = self.base_dir / "pg_ctl.out"
        with open(out_path, "wb") as out:
            if self._run_as.username:
                os.chown(out_path, self._run_as.uid, self._run_as.gid)
            try:
                proc = subprocess.run(
                    [os.path.join(self._bindir, "pg_ctl"), "-D", str(self.data_dir), *args],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.base_dir, env=_clean_env(), timeout=timeout,
                    **self._run_as.kwargs(),
                )
            except subprocess.TimeoutExpired as exc:
                raise ServiceError(
                    f"pg_ctl {' '.join(args)} timed out after {timeout}s\n"
                    f"--- {self.log_file} ---\n{_tail(self.log_file)}"
                ) from exc
        proc.stdout = out_path.read_text(errors="replace")
        return proc

    def _start(self, timeout: float) -> None:
        proc = self._pg_ctl(
            "-l", str(self.log_file), "-o", f"-p {self.port}",
            "-w", "-t", str(int(timeout)), "start", timeout=timeout + 15,
        )
        if proc.returncode != 0:
            raise ServiceError(
                f"PostgreSQL failed to start on {HOST}:{self.port} (pg_ctl exit "
                f"{proc.returncode}): {proc.stdout.strip()}\n"
                f"--- {self.log_file} ---\n{_tail(self.log_file)}"
            )
        self._wait_ready(timeout)
        self._stopped = False

    def _wait_ready(self, timeout: float) -> None:
        isready = os.path.join(self._bindir, "pg_isready") if self._bindir else None
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if isready and _is_executable(isready):
                p = subprocess.run(
                    [isready, "-q", "-h", HOST, "-p", str(self.port), "-U", self.user,
                     "-d", "postgres", "-t", "2"],
                    capture_output=True, text=True, env=_clean_env(), timeout=10,
                )
                if p.returncode == 0:
                    return
                last = f"pg_isready exit {p.returncode}"
            elif _port_open(HOST, self.port):
                return
            time.sleep(0.05)
        raise ServiceError(
            f"PostgreSQL on {HOST}:{self.port} not ready after {timeout}s ({last})\n"
            f"--- {self.log_file} ---\n{_tail(self.log_file)}"
        )

    def restart(self, timeout: float = 60) -> None:
        """Stop (immediate) and start again on the same port."""
        if self.external:
            raise ServiceError("cannot restart an external PostgreSQL server")
        self._stop_server()
        self._start(timeout)

    def _stop_server(self) -> None:
        if self._stopped or self.external:
            return
        self._stopped = True
        pidfile = self.data_dir / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            proc = self._pg_ctl("-m", "immediate", "-w", "-t", "30", "stop", timeout=45)
            ok = proc.returncode == 0
        except ServiceError:
            ok = False
        if not ok and pidfile.exists():
            # Last resort: SIGKILL the postmaster (children exit with it).
            try:
                pid = int(pidfile.read_text().split("\n", 1)[0])
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m immediate``); safe to call twice.

        For an external server: drop the databases created through this
        object, never stop the server.
        """
        if self.external:
            if self._stopped:
                return
            self._stopped = True
            for name in list(self._created):
                try:
                    self.drop_database(name)
                except ServiceError:
                    pass
            return
        self._stop_server()
        if self._own_socket_dir and self.socket_dir:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self._own_socket_dir = False


def _postgres_from_env(url: str) -> PostgresService:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ServiceError(f"{POSTGRES_URL_ENV} must be a postgresql:// URL, got {url!r}")
    if not parts.path.strip("/"):
        url = _url_with_db(url, "postgres")
    svc = PostgresService(
        url=url, host=parts.hostname or "localhost", port=parts.port or 5432,
        user=urllib.parse.unquote(parts.username or ""), external=True,
    )
    svc.psql("SELECT 1")  # fail early with a clear message
    return svc


def start_postgres(base_dir: str | os.PathLike, *, user: str = "postgres",
                   timeout: float = 60, max_connections: int = 300, durable: bool = False) -> PostgresService:
    """Start a throwaway PostgreSQL server with its data under ``base_dir``.

    Returns a :class:`PostgresService`; ``.url`` is
    ``postgresql://USER@127.0.0.1:PORT/postgres``. Trust authentication,
    loopback only, durability switched off (fsync, synchronous_commit,
    full_page_writes) unless ``durable`` (the benchmark measures what an
    operator runs). If ``ETHERGATE_TEST_POSTGRES_URL`` is set, that server
    is used instead and nothing is started.
    """
    env_url = os.environ.get(POSTGRES_URL_ENV)
    if env_url:
        return _postgres_from_env(env_url)

    bindir = find_pg_bindir()
    if not bindir:
        raise ServiceUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under "
            f"/usr/lib/postgresql/*/bin; run: {INSTALL_HINT} db"
        )
    if not _find_psql():
        raise ServiceUnavailable(f"psql not found; run: {INSTALL_HINT} db")

    base = Path(base_dir).resolve()
    run_as = _RunAs(_pg_system_user())
    run_as.prepare_dir(base)
    data_dir = base / "data"
    log_file = base / "postgres.log"

    socket_dir = base / "sock"
    own_socket_dir = False
    if len(str(socket_dir / ".s.PGSQL.65535")) > _MAX_SOCKET_PATH:
        socket_dir = Path(tempfile.mkdtemp(prefix="eg-pg-"))
        own_socket_dir = True
    run_as.prepare_dir(socket_dir)

    if not (data_dir / "PG_VERSION").exists():
        cmd = [
            os.path.join(bindir, "initdb"), "-D", str(data_dir), "-U", user,
            "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
            "--no-instructions",
        ]
        init_log = base / "initdb.log"
        with open(init_log, "wb") as out:
            try:
                proc = subprocess.run(
                    cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=base, env=_clean_env(), timeout=timeout, **run_as.kwargs(),
                )
            except subprocess.TimeoutExpired as exc:
                raise ServiceError(
                    f"initdb timed out after {timeout}s\n{_tail(init_log)}"
                ) from exc
        if proc.returncode != 0:
            raise ServiceError(
                f"initdb failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                f"--- {init_log} ---\n{_tail(init_log)}"
            )
        settings = {
            "listen_addresses": _quote_conf(HOST),
            "unix_socket_directories": _quote_conf(str(socket_dir)),
            "max_connections": str(max_connections),
            "log_line_prefix": _quote_conf("%m [%p] %q%u@%d "),
        }
        if not durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# --- added by tests/services.py ---\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    # Another process may grab the port between free_port() and the bind;
    # retry a few times with a fresh one.
    last_error: ServiceError | None = None
    for _attempt in range(3):
        port = free_port()
        svc = PostgresService(
            url=f"postgresql://{urllib.parse.quote(user, safe='')}@{HOST}:{port}/postgres",
            host=HOST, port=port, user=user, base_dir=base, bindir=bindir,
            run_as=run_as, socket_dir=socket_dir, own_socket_dir=own_socket_dir,
        )
        try:
            svc._start(timeout)
        except ServiceError as exc:
            last_error = exc
            svc._stopped = False
            svc._stop_server()
            if "could not bind" in str(exc) or "Address already in use" in str(exc):
                continue
            if own_socket_dir:
                shutil.rmtree(socket_dir, ignore_errors=True)
            raise
        atexit.register(svc.stop)
        return svc
    if own_socket_dir:
        shutil.rmtree(socket_dir, ignore_errors=True)
    assert last_error is not None
    raise last_error


# --------------------------------------------------------------------------
# Redis


def redis_ping(host: str, port: int, *, password: str | None = None,
               username: str | None = None, timeout: float = 2.0) -> bool:
    """True if a Redis server at host:port answers PING with PONG."""

    def command(*args: str) -> bytes:
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            payload = b""
            if password:
                payload += command("AUTH", *([username] if username else []), password)
            payload += command("PING")
            s.sendall(payload)
            buf = b""
            expected = 2 if password else 1
            while buf.count(b"\r\n") < expected:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                buf += chunk
            return buf.split(b"\r\n")[expected - 1] == b"+PONG"
    except OSError:
        return False


class RedisService:
    """A redis-server child process (or an external server via env var)."""

    def __init__(self, *, url: str, host: str, port: int, external: bool = False,
                 base_dir: Path | None = None, binary: str | None = None,
                 password: str | None = None, username: str | None = None):
        self.url = url
        self.host = host
        self.port = port
        self.external = external
        self.base_dir = base_dir
        self.log_file = base_dir / "redis.log" if base_dir else None
        self._binary = binary
        self._password = password
        self._username = username
        self._proc: subprocess.Popen | None = None

    def __repr__(self) -> str:
        kind = "external" if self.external else "local"
        return f"<RedisService {kind} {self.url}>"

    def __enter__(self) -> "RedisService":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        if self.external:
            return self.ping()
        return self._proc is not None and self._proc.poll() is None

    def ping(self, timeout: float = 2.0) -> bool:
        return redis_ping(self.host, self.port, password=self._password,
                          username=self._username, timeout=timeout)

    def _spawn(self, timeout: float) -> None:
        assert self.base_dir and self._binary
        cmd = [
            self._binary,
            "--bind", HOST,
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.base_dir),
            "--logfile", str(self.log_file),
        ]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.base_dir, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._proc = None
                raise ServiceError(
                    f"redis-server exited with {rc} while starting on {HOST}:{self.port}\n"
                    f"--- {self.log_file} ---\n{_tail(self.log_file)}"
                )
            if self.ping(timeout=0.5):
                return
            time.sleep(0.02)
        self.kill()
        raise ServiceError(
            f"redis-server on {HOST}:{self.port} not answering PING after {timeout}s\n"
            f"--- {self.log_file} ---\n{_tail(self.log_file)}"
        )

    def _require_local(self, what: str) -> None:
        if self.external:
            raise ServiceError(f"cannot {what} an external Redis ({self.url})")

    def kill(self) -> None:
        """SIGKILL the server (simulates Redis going down hard)."""
        self._require_local("kill")
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM and wait (SIGKILL after ``timeout``); safe to call twice.

        A no-op for an external server.
        """
        if self.external:
            return
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def restart(self, timeout: float = 30) -> None:
        """(Re)start on the same port; stops a running server first."""
        self._require_local("restart")
        self.stop()
        # The port may linger briefly (or be taken); retry until timeout.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._spawn(timeout=max(1.0, deadline - time.monotonic()))
                return
            except ServiceError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)


def _redis_from_env(url: str) -> RedisService:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ServiceError(f"{REDIS_URL_ENV} must be a redis:// URL, got {url!r}")
    svc = RedisService(
        url=url, host=parts.hostname or "localhost", port=parts.port or 6379,
        external=True,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
    )
    if parts.scheme == "redis" and not svc.ping():
        raise ServiceError(f"{REDIS_URL_ENV}={url!r} does not answer PING")
    return svc


def start_redis(base_dir: str | os.PathLike, *, timeout: float = 30) -> RedisService:
    """Start a throwaway redis-server on a free 127.0.0.1 port.

    No persistence (``--save "" --appendonly no``). If
    ``ETHERGATE_TEST_REDIS_URL`` is set, that server is used instead.
    """
    env_url = os.environ.get(REDIS_URL_ENV)
    if env_url:
        return _redis_from_env(env_url)

    binary = find_redis_server()
    if not binary:
        raise ServiceUnavailable(f"redis-server not found; run: {INSTALL_HINT} db")
    base = Path(base_dir).resolve()
    base.mkdir(parents=True, exist_ok=True)

    last_error: ServiceError | None = None
    for _attempt in range(3):
        port = free_port()
        svc = RedisService(url=f"redis://{HOST}:{port}/0", host=HOST, port=port,
                           base_dir=base, binary=binary)
        try:
            svc._spawn(timeout)
        except ServiceError as exc:
            last_error = exc
            if "Address already in use" in str(exc):
                continue
            raise
        atexit.register(svc.stop)
        return svc
    assert last_error is not None
    raise last_error
