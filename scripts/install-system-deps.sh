#!/usr/bin/env bash
# Install the Debian packages the test suite needs, but only those missing.
#
# Usage: scripts/install-system-deps.sh [GROUP...]
#   db       postgresql (server binaries), redis-server
#   browser  chromium, fonts-wqy-microhei (CJK glyphs for Chinese screenshots)
#   bench    wrk, nginx
#   all      db browser bench
# Default: db browser
#
# Idempotent and quick: when everything requested is already present no apt
# command runs at all. Nothing is started: the tests start their own
# throwaway servers on free loopback ports (see tests/services.py).
set -euo pipefail

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

groups=("$@")
if [ ${#groups[@]} -eq 0 ]; then
    groups=(db browser)
fi

want_db=0 want_browser=0 want_bench=0
for g in "${groups[@]}"; do
    case "$g" in
        db) want_db=1 ;;
        browser) want_browser=1 ;;
        bench) want_bench=1 ;;
        all) want_db=1 want_browser=1 want_bench=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-system-deps: unknown group '$g' (expected: db, browser, bench, all)" >&2; exit 2 ;;
    esac
done

have_cmd() { command -v "$1" >/dev/null 2>&1; }

have_pg_server() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            return 0
        fi
    done
    return 1
}

have_chromium() {
    have_cmd chromium || [ -x /usr/bin/chromium ] || [ -x /usr/lib/chromium/chromium ]
}

missing=()
if [ $want_db -eq 1 ]; then
    have_pg_server || missing+=(postgresql)
    have_cmd redis-server || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
fi
if [ $want_browser -eq 1 ]; then
    have_chromium || missing+=(chromium)
    [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
fi
if [ $want_bench -eq 1 ]; then
    have_cmd wrk || [ -x /usr/bin/wrk ] || missing+=(wrk)
    have_cmd nginx || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps: missing Debian packages: ${missing[*]} - run as root: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "install-system-deps: installing ${missing[*]}" >&2

# Keep maintainer scripts from starting the packaged services (Debian's
# postgresql cluster on 5432, redis on 6379): tests never use them. If a
# policy-rc.d is already in place (e.g. in Docker images) leave it alone.
policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    if [ $created_policy -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, written by install-system-deps.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

# Without systemd, invoke-rc.d may still have started the SysV service if the
# policy above was not honoured. Stop whatever the package started: we run our
# own redis-server on a chosen port and do not want a stray one on 6379.
for p in "${missing[@]}"; do
    if [ "$p" = redis-server ]; then
        if [ -x /etc/init.d/redis-server ]; then
            /etc/init.d/redis-server stop >/dev/null 2>&1 || true
        fi
        if [ -r /run/redis/redis-server.pid ]; then
            kill "$(cat /run/redis/redis-server.pid)" 2>/dev/null || true
        fi
    fi
    if [ "$p" = nginx-light ]; then
        /etc/init.d/nginx stop >/dev/null 2>&1 || true
    fi
    if [ "$p" = postgresql ]; then
        if [ -x /etc/init.d/postgresql ]; then
            /etc/init.d/postgresql stop >/dev/null 2>&1 || true
        fi
    fi
done

# Verify the result, so a broken install fails here rather than in pytest.
fail=0
for p in "${missing[@]}"; do
    case "$p" in
        postgresql) have_pg_server || { echo "install-system-deps: postgresql installed but no initdb under /usr/lib/postgresql/*/bin" >&2; fail=1; } ;;
        redis-server) have_cmd redis-server || { echo "install-system-deps: redis-server not found after install" >&2; fail=1; } ;;
        chromium) have_chromium || { echo "install-system-deps: chromium not found after install" >&2; fail=1; } ;;
        wrk) have_cmd wrk || { echo "install-system-deps: wrk not found after install" >&2; fail=1; } ;;
        nginx-light) have_cmd nginx || [ -x /usr/sbin/nginx ] || { echo "install-system-deps: nginx not found after install" >&2; fail=1; } ;;
    esac
done
exit $fail
