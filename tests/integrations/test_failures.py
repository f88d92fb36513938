"""Failures say what is wrong, exit non-zero and leave every file as it was; --dry-run writes nothing."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.integrations.conftest import snapshot
from tests.integrations.homes import hermes_home, openclaw_home

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant and tool home


def test_bad_key_is_rejected_by_the_live_gateway_and_nothing_is_written(installer, tmp_path):
    home = openclaw_home(tmp_path / "oc")
    before = snapshot(home)

    result = installer.run("--target", "openclaw", "--api-key", "cr_" + "x" * 40, "--home", str(home))

    assert result.returncode == 4
    assert "The API key was rejected (401)" in result.stderr
    assert snapshot(home) == before


def test_unknown_target(installer, tenant):
    result = installer.run("--target", "cursor", "--api-key", tenant.plaintext)
    assert result.returncode == 2
    assert "Unknown target 'cursor': use one of qclaw, openclaw, hermes, qwen-code, opencode, aider, claude-code, codex." in result.stderr
    assert list(installer.user_home.iterdir()) == []


@pytest.mark.parametrize("target, shown", [("openclaw", ".openclaw"), ("qclaw", ".qclaw"), ("hermes", ".hermes")])
def test_missing_home(installer, tenant, target, shown):
    result = installer.run("--target", target, "--api-key", tenant.plaintext)
    assert result.returncode == 3
    assert "home not found at" in result.stderr and shown in result.stderr and "--home" in result.stderr
    assert list(installer.user_home.iterdir()) == []


def test_missing_home_given_with_home_flag(installer, tenant, tmp_path):
    result = installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(tmp_path / "nope"))
    assert result.returncode == 3 and "Hermes home not found" in result.stderr
    assert not (tmp_path / "nope").exists()


def run_without_write_access(installer, home: Path, read_only: list[Path], *args):
    """Run the installer unable to write `read_only` (root ignores permission bits, so as root the
    installer runs as nobody, owning every other path)."""
    script = home.parent / "install.sh"
    shutil.copy(installer.script, script)
    installer.script = script
    everything = [home.parent, *home.parent.rglob("*")]
    if os.geteuid() == 0:
        for path in everything:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
            if path != home.parent and not any(path == p or p in path.parents for p in read_only):
                os.chown(path, 65534, 65534)
        prefix = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
    else:
        for path in read_only:
            for inner in [path, *path.rglob("*")]:
                os.chmod(inner, 0o555 if inner.is_dir() else 0o444)
        prefix = ()
    return installer.run(*args, prefix=prefix)


@pytest.fixture
def scratch():
    # The pytest tmp tree is private to its owner; nobody needs a readable directory of its own.
    path = Path(tempfile.mkdtemp(prefix="eg-installer-"))
    yield path
    for inner in [path, *path.rglob("*")]:
        os.chmod(inner, 0o755 if inner.is_dir() else 0o644)
    shutil.rmtree(path)


def test_unwritable_home_fails_before_writing_anything(installer, tenant, scratch):
    home = openclaw_home(scratch / "oc")
    before = snapshot(home)

    result = run_without_write_access(installer, home, [home], "--target", "openclaw",
                                      "--api-key", tenant.plaintext, "--home", str(home))

    assert result.returncode == 3, result.stderr
    assert "permission denied. Nothing was changed." in result.stderr
    assert snapshot(home) == before


def test_one_unwritable_cache_stops_the_run_before_any_write(installer, tenant, scratch):
    home = openclaw_home(scratch / "oc")
    before = snapshot(home)

    result = run_without_write_access(installer, home, [home / "agents" / "main"], "--target", "openclaw",
                                      "--api-key", tenant.plaintext, "--home", str(home))

    assert result.returncode == 3, result.stderr
    assert "agents/main/agent/models.json: permission denied" in result.stderr.replace("Cannot write ", "")
    assert snapshot(home) == before
    assert not list(home.rglob("*.bak-*")) and not (home / "skills").exists()


def test_a_cache_that_cannot_be_read_is_reported(installer, tenant, tmp_path):
    home = openclaw_home(tmp_path / "oc")
    cache = home / "agents" / "main" / "agent" / "models.json"
    cache.unlink()
    cache.mkdir()
    before = snapshot(home)

    result = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home))

    assert result.returncode == 6 and "Cannot read" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(home) == before


def test_unreadable_config_is_reported_and_left_alone(installer, tenant, tmp_path):
    home = openclaw_home(tmp_path / "oc", config="{ models: { providers: { broken: [1, 2 }, }")
    before = snapshot(home)

    result = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home))

    assert result.returncode == 6
    assert "Cannot read" in result.stderr and "line 1" in result.stderr
    assert snapshot(home) == before


def test_unknown_model_is_refused(installer, tenant, tmp_path):
    home = hermes_home(tmp_path / "hermes")
    before = snapshot(home)
    result = installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(home), "--model", "gpt-9")
    assert result.returncode == 2 and "Model 'gpt-9' is not available to this key." in result.stderr
    assert snapshot(home) == before


def test_dry_run_writes_nothing(installer, tenant, tmp_path):
    homes = [openclaw_home(tmp_path / "oc"), hermes_home(tmp_path / "hermes")]
    before = [snapshot(home) for home in homes]

    runs = [installer.run("--target", target, "--api-key", tenant.plaintext, "--home", str(home), "--dry-run")
            for target, home in zip(("openclaw", "hermes"), homes)]

    for result in runs:
        assert result.returncode == 0, result.stderr
        assert "Would update" in result.stdout and "Dry run: nothing was written." in result.stdout
    assert [snapshot(home) for home in homes] == before


def test_chinese_messages(installer, tenant, tmp_path):
    home = hermes_home(tmp_path / "hermes")

    done = installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(home), "--locale", "zh")
    rejected = installer.run("--target", "hermes", "--api-key", "cr_" + "y" * 40, "--home", str(home), "--locale", "zh")
    unknown = installer.run("--target", "nope", "--api-key", tenant.plaintext, "--locale", "zh")

    assert done.returncode == 0 and "密钥有效" in done.stdout and "开启新的 Hermes 会话" in done.stdout
    assert rejected.returncode == 4 and "API 密钥被拒绝（401）" in rejected.stderr
    assert unknown.returncode == 2 and "未知的目标" in unknown.stderr


def test_missing_python_is_explained(installer, tenant, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "mktemp", "rm", "cat", "uname", "awk"):
        os.symlink(shutil.which(tool), bin_dir / tool)

    result = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, PATH=str(bin_dir), ETHERGATE_PYTHON="")

    assert result.returncode == 1
    assert "Python 3 (3.8 or newer) is required" in result.stderr


def test_help(installer):
    result = installer.run("--help")
    assert result.returncode == 0
    for option in ("--target", "--api-key", "--locale", "--home", "--model", "--dry-run"):
        assert option in result.stdout
    assert "--base-url" not in result.stdout
