"""The benchmark's upstreams: Debian's nginx returning a canned completion, and the gevent SSE server."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .child import Child, ChildFailed, environ, free_port, wait_for_port
from .payloads import completion_json

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "install-system-deps.sh"

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    tcp_nodelay on;
    keepalive_timeout 300s;
    # nginx's default (1,000) would make the gateway's pooled connections reconnect mid-run.
    keepalive_requests 10000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location ~ /chat/completions$ {{
            default_type application/json;
            return 200 '{body}';
        }}
        location / {{
            return 404;
        }}
    }}
}}
"""


class Upstream:
    def __init__(self, kind: str, child: Child, url: str):
        self.kind, self.child, self.url = kind, child, url

    def base_url(self, provider: str = "deepseek") -> str:
        return f"{self.url}/{provider}"

    def completions_url(self, provider: str = "deepseek") -> str:
        return self.base_url(provider) + "/chat/completions"

    def stop(self) -> None:
        self.child.stop()


def nginx_binary(install: bool) -> str | None:
    """The nginx executable; with install, the project's install script adds Debian's package when missing."""
    found = shutil.which("nginx") or (Path("/usr/sbin/nginx").is_file() and "/usr/sbin/nginx") or None
    if found is None and install:
        subprocess.run(["bash", str(INSTALL_SCRIPT), "bench"], check=True, timeout=900)
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found


def nginx_version(binary: str) -> str:
    result = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    return (result.stderr or result.stdout).strip().split("/", 1)[-1]


def start_nginx(workdir: Path, binary: str) -> Upstream:
    directory = workdir / "nginx"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, port=port, body=completion_json()))
    child = Child("nginx", [binary, "-p", str(directory), "-c", str(conf), "-e", str(directory / "nginx-error.log")],
                  workdir / "nginx.log").start()
    wait_for_port(port, child)
    return Upstream("nginx", child, f"http://127.0.0.1:{port}")


def start_sse(workdir: Path, chunks: int = 8, gap_ms: int = 5) -> Upstream:
    child = Child("bench SSE upstream", [sys.executable, "-m", "bench.upstream_sse", "--port", "0",
                                         "--chunks", str(chunks), "--gap-ms", str(gap_ms)],
                  workdir / "upstream-sse.log", env=environ(), cwd=ROOT).start(stdout=subprocess.PIPE)
    try:
        url = child.read_listening_url(timeout=30)
    except ChildFailed:
        child.stop()
        raise
    return Upstream("gevent", child, url)
