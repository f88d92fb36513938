#!/usr/bin/env bash
# Install Debian's nginx (the benchmark's non-streamed upstream) if it is missing; start nothing.
#
# The benchmark runs its own nginx as a child process on a loopback port with a config in a temporary
# directory, so the packaged service must neither start now nor hold port 80.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "bench: nginx is missing - run as root: apt-get install -y --no-install-recommends nginx" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    if [ $created_policy -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, written by bench/install-nginx.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
fi

echo "bench: installing nginx" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends nginx

# Without systemd the maintainer script may still have started the packaged server.
if [ -x /etc/init.d/nginx ]; then
    /etc/init.d/nginx stop >/dev/null 2>&1 || true
fi
if [ -r /run/nginx.pid ]; then
    kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi

command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { echo "bench: nginx not found after install" >&2; exit 1; }
