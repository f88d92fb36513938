"""The installer scripts (install.sh, install.ps1) with an instance's public URL and the merge engine filled in."""
from __future__ import annotations

from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ENGINE_END = "__ETHERGATE_ENGINE_END__"


def render_script(name: str, base_url: str) -> str:
    """install.sh or install.ps1 with the public URL and the merge engine filled in."""
    engine = (SCRIPTS / "ethergate_provider.py").read_text(encoding="utf-8")
    template = (SCRIPTS / name).read_text(encoding="utf-8")
    lines = engine.splitlines()
    # The engine is embedded verbatim in a heredoc (bash) and a here-string (PowerShell).
    if ENGINE_END in lines or any(line.startswith("'@") for line in lines):
        raise RuntimeError("the engine contains a line that would end its embedding")
    return (template
            .replace("__ETHERGATE_PUBLIC_URL_SH__", "'" + base_url.replace("'", "'\\''") + "'")
            .replace("__ETHERGATE_PUBLIC_URL_PS__", "'" + base_url.replace("'", "''") + "'")
            .replace("__ETHERGATE_PUBLIC_URL__", base_url)
            .replace("__ETHERGATE_ENGINE__", engine.rstrip("\n")))
