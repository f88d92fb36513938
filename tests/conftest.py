"""Shared fixtures: a fresh database per test on each engine, the fake upstream, a live server."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests import engines, services
from tests.factories import Factories
from tests.server_forks import fork_server

ROOT = Path(__file__).resolve().parent.parent
ENGINES = engines.selected_engines()
TEST_SECRET = "test-secret-key-" + "x" * 32
# One per pytest-xdist worker, for when the workers share a PostgreSQL server (ETHERGATE_TEST_POSTGRES_URL).
TEMPLATE_NAME = "eg_template_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
PROVIDER_KEYS = {"deepseek": "sk-test-deepseek", "qwen": "sk-test-qwen", "moonshot": "sk-test-moonshot"}


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: needs Chromium (given to every test using the chromium fixture)")
    config.addinivalue_line("markers", "agents: needs the agent tools of scripts/agent_tools.py (given by fixture)")
    config.addinivalue_line("markers", "both_engines: run on SQLite and PostgreSQL whatever the path says")
    config.addinivalue_line("markers", "one_engine: run on the first engine only whatever the path says")
    config.addinivalue_line("markers", "postgresql_only: exercises what only PostgreSQL has")
    config.addinivalue_line("markers", "shared_live_server: the module's tests share one database and live "
                                       "server; each test makes its own tenant and leaves no process-wide state")


# A test that uses one of these fixtures gets the marker, so `-m "not browser and not agents"` leaves it out.
MARKED_BY_FIXTURE = {"chromium": "browser", "tool_venv": "agents", "openclaw_cli": "agents"}


AGENT_TOOLS_MODULE = "tests.integrations.tools"


def runs_agent_tools(module) -> bool:
    """A test module that imports the agent-tool cache (or anything from it) drives real tools."""
    if module is None:
        return False
    return any(AGENT_TOOLS_MODULE in (getattr(value, "__name__", None), getattr(value, "__module__", None))
               for value in vars(module).values())


def pytest_collection_modifyitems(config, items):
    agent_modules: dict[str, bool] = {}  # by module name: each module's globals are read once
    for item in items:
        for fixture, marker in MARKED_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        module = getattr(item, "module", None)
        key = getattr(module, "__name__", None)
        if key not in agent_modules:
            agent_modules[key] = runs_agent_tools(module)
        if agent_modules[key]:
            item.add_marker("agents")


def pytest_generate_tests(metafunc):
    """Parametrize `engine` per test: both engines or one, by tests/engines.py's rules."""
    if "engine" not in metafunc.fixturenames:
        return
    path = Path(metafunc.definition.path).resolve().relative_to(ROOT).as_posix()
    markers = {mark.name for mark in metafunc.definition.iter_markers()}
    left_out = pytest.mark.skip(reason="PostgreSQL only; ETHERGATE_TEST_ENGINES leaves it out")
    chosen = engines.engines_for(path, markers, ENGINES) or [pytest.param("postgresql", marks=left_out)]
    metafunc.parametrize("engine", chosen, indirect=True, scope="session")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    server = services.start_postgres(tmp_path_factory.mktemp("pg"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = services.start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def template_databases(tmp_path_factory, request):
    """Databases migrated once per session; each test gets a copy, which is much faster than migrating."""
    made: dict[str, str] = {}

    def get(engine: str) -> str:
        if engine in made:
            return made[engine]
        if engine == "sqlite":
            url = "sqlite:///" + str(tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3")
        else:
            pg = request.getfixturevalue("pg_server")
            url = pg.create_database(TEMPLATE_NAME)
        migrate_database(url)
        if engine == "postgresql":
            from sqlalchemy import create_engine
            from ethergate.settings import parse_database_url
            create_engine(parse_database_url("url", url)).dispose()
        made[engine] = url
        return url

    return get


def migrate_database(url: str) -> None:
    """Upgrade to head and sync the catalog, in a child process, as an operator would."""
    env = dict(os.environ, ETHERGATE_DATABASE_URL=url, ETHERGATE_SECRET_KEY=TEST_SECRET)
    for command in (["db", "upgrade"], ["catalog", "sync"]):
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *command], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def engine(request):
    """"sqlite" or "postgresql"; parametrized by pytest_generate_tests above."""
    return request.param


def fresh_database(engine: str, template_databases, tmp_path: Path, request) -> str:
    template = template_databases(engine)
    if engine == "sqlite":
        target = tmp_path / f"eg-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(template.removeprefix("sqlite:///"), target)
        return f"sqlite:///{target}"
    pg = request.getfixturevalue("pg_server")
    return pg.create_database(f"eg_{uuid.uuid4().hex[:12]}", template=TEMPLATE_NAME)


@pytest.fixture
def database_url(engine, template_databases, tmp_path, request):
    return fresh_database(engine, template_databases, tmp_path, request)


def app_config(database_url: str, **extra) -> dict:
    from ethergate.settings import parse_database_url
    config = {"TESTING": True, "SECRET_KEY": TEST_SECRET,
              "SQLALCHEMY_DATABASE_URI": parse_database_url("url", database_url)}
    config.update(extra)
    return config


@pytest.fixture
def app(database_url):
    from ethergate import create_app
    from ethergate.extensions import db

    app = create_app(app_config(database_url))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def factories(app):
    return Factories(app)


@pytest.fixture(scope="session")
def fake_upstream():
    from tests.fakes.upstream import FakeUpstream
    fake = FakeUpstream.start()
    yield fake
    fake.stop()


class LiveServer:
    """The real app (`python wsgi.py`) in a child process, plus an in-process app on the same database."""

    def __init__(self, database_url: str, fake, extra_env: dict | None = None, log_path: Path | None = None):
        self.database_url = database_url
        self.fake = fake
        self.env = dict(os.environ, ETHERGATE_DATABASE_URL=database_url, ETHERGATE_SECRET_KEY=TEST_SECRET,
                        ETHERGATE_CHECK_TRANSACTIONS="true")
        for provider, key in PROVIDER_KEYS.items():
            self.env[f"ETHERGATE_{provider.upper()}_API_KEY"] = key
            if fake is not None:
                self.env[f"ETHERGATE_{provider.upper()}_BASE_URL"] = fake.base_url(provider)
        self.env.update(extra_env or {})
        self.env = {k: v for k, v in self.env.items() if v is not None}
        self.log_path = log_path
        self.process = None
        self.url = None

    def start(self) -> "LiveServer":
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        args = ["--host", "127.0.0.1", "--port", "0"]
        forks = fork_server()
        if forks is not None and forks.can_fork(self.env):
            self.process = forks.spawn(args, self.env, log)
        else:
            self.process = subprocess.Popen([sys.executable, "wsgi.py", *args], cwd=ROOT, env=self.env,
                                            stdout=subprocess.PIPE, stderr=log)
        line = self.process.stdout.readline().decode()
        if "listening on" not in line:
            self.process.kill()
            tail = Path(self.log_path).read_text()[-2000:] if self.log_path else ""
            raise RuntimeError(f"live server did not start: {line!r}\n{tail}")
        self.url = line.strip().rsplit(" ", 1)[-1]
        return self

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class ModuleServers:
    """What the tests of one module share when it is marked `shared_live_server`: a database, one server."""

    def __init__(self, database_url: str, fake, log_dir: Path):
        self.database_url = database_url
        self.fake = fake
        self.log_dir = log_dir
        self.server: LiveServer | None = None

    def default_server(self) -> LiveServer:
        # A test may have killed or stopped it (crash tests, log flushes): the next test gets a new one.
        if self.server is None or self.server.process.poll() is not None:
            self.server = LiveServer(self.database_url, self.fake, None, self.log_dir / "shared-server.log")
            self.server.start()
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="module")
def module_servers(engine, template_databases, tmp_path_factory, request, fake_upstream):
    """The module's shared database and server, or None unless the module is marked `shared_live_server`."""
    if request.node.get_closest_marker("shared_live_server") is None:
        yield None
        return
    log_dir = tmp_path_factory.mktemp("shared-server")
    shared = ModuleServers(fresh_database(engine, template_databases, log_dir, request), fake_upstream, log_dir)
    yield shared
    shared.stop()


@pytest.fixture
def live_server_factory(engine, template_databases, tmp_path, request, fake_upstream, module_servers):
    """Start one or more live servers; all share one fresh database unless told otherwise.

    In a module marked `shared_live_server` that database is the module's, shared with `live_server`.
    """
    started: list[LiveServer] = []
    shared = {}

    def start(extra_env: dict | None = None, database_url: str | None = None) -> LiveServer:
        if database_url is None:
            if "url" not in shared:
                shared["url"] = (module_servers.database_url if module_servers is not None
                                 else fresh_database(engine, template_databases, tmp_path, request))
            database_url = shared["url"]
        server = LiveServer(database_url, fake_upstream, extra_env, tmp_path / f"server-{len(started)}.log")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(request, module_servers):
    """The real app in a child process: the module's shared one when the module is marked
    `shared_live_server` (its tests each make their own tenant), else a fresh one on a fresh database."""
    if module_servers is not None:
        return module_servers.default_server()
    return request.getfixturevalue("live_server_factory")()


@pytest.fixture
def live_app(live_server):
    """An in-process app bound to the live server's database, for factories and assertions."""
    from ethergate import create_app
    from ethergate.extensions import db

    app = create_app(app_config(live_server.database_url))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def live_factories(live_app):
    return Factories(live_app)


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


# One Playwright per test process: a second sync_playwright() in the same process is refused.
@pytest.fixture(scope="session")
def chromium():
    path = services.find_chromium()
    if path is None:
        pytest.fail("Chromium is not installed (tests.services.find_chromium() found none); "
                    "install it with: scripts/install-system-deps.sh browser", pytrace=False)
    from playwright import sync_api as playwright_api
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
