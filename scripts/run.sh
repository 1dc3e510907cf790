#!/usr/bin/env bash
# `make run`: venv, install, (private) Redis, migrate, demo data, then every Procfile process.
#
# Without REDIS_URL a private redis-server is started on instance/redis.sock so
# nothing clashes with a system Redis; it is stopped again when this script exits.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-python3}

say() { printf 'run: %s\n' "$*"; }
die() { printf 'run: ERROR: %s\n' "$*" >&2; exit 1; }

# honcho reads .env for the processes; read it here too so the flask commands agree.
if [[ -f .env ]]; then
    say "reading .env"
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
fi
export PORT=${PORT:-5000}
export FLASK_APP=app:create_app
# Metrics (prometheus_client multiprocess mode): every process counts into this
# directory and the web's /metrics adds them up. It must exist before any
# process starts and be emptied before the Procfile processes start (below).
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$ROOT/instance/metrics}
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

apt_install() {
    [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null || return 1
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

ensure_venv() {
    command -v "$PY" >/dev/null || die "$PY not found; install Python >= 3.11 (or set PY=...)"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Almanac needs Python >= 3.11; $PY is $("$PY" --version 2>&1)"
    # Debian ships venv's pip bootstrap separately (python3-venv).
    if [[ ! -x .venv/bin/python ]] && ! "$PY" -c 'import ensurepip' 2>/dev/null; then
        apt_install python3-venv || die "install python3-venv (apt-get install python3-venv)"
    fi
    make --no-print-directory venv PY="$PY"
}

sock=$ROOT/instance/redis.sock
pidfile=$ROOT/instance/redis.pid
our_redis=0
banner_pid=
app_pid=

private_redis_ok() { [[ "$(redis-cli -s "$sock" ping 2>/dev/null)" == PONG ]]; }

start_private_redis() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        apt_install redis-server || die "redis-server is not installed. Install it \
(sudo apt-get install redis-server) or point REDIS_URL at a running Redis."
    fi
    mkdir -p instance
    our_redis=1
    if private_redis_ok; then
        say "reusing the private Redis left running on $sock"
    else
        rm -f "$sock"
        redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --daemonize yes \
            --pidfile "$pidfile" --dir "$ROOT/instance" --save "" --appendonly no \
            --logfile "$ROOT/instance/redis.log"
        for _ in $(seq 50); do private_redis_ok && break; sleep 0.2; done
        private_redis_ok || die "private Redis did not start; see instance/redis.log"
        say "private Redis on $sock"
    fi
    export REDIS_URL=unix://$sock
}

stop_private_redis() {
    [[ $our_redis -eq 1 ]] || return 0
    redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 \
        || { [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null; } || true
    say "stopped the private Redis"
}

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    [[ -n $banner_pid ]] && kill "$banner_pid" 2>/dev/null
    if [[ -n $app_pid ]] && kill -0 "$app_pid" 2>/dev/null; then
        say "stopping the Procfile processes"
        kill -TERM "$app_pid" 2>/dev/null
        wait "$app_pid" 2>/dev/null
    fi
    stop_private_redis
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

banner() {
    local line
    line=$(printf '=%.0s' $(seq 64))
    printf '\n%s\n  Almanac: open http://127.0.0.1:%s\n  Sign in as %s\n%s\n\n' \
        "$line" "$PORT" "$1" "$line"
}

ensure_venv
port_taken && die "port $PORT is already in use; stop what is on it or run: PORT=5050 make run"
if [[ -z ${REDIS_URL:-} ]]; then
    start_private_redis
else
    say "using REDIS_URL from the environment"
fi

.venv/bin/flask db upgrade
.venv/bin/flask sync-tasks
seed_output=$(.venv/bin/flask seed-demo)
printf '%s\n' "$seed_output"
login=$(printf '%s\n' "$seed_output" | sed -n 's/^demo admin: //p' | tail -n 1)
login=${login:-"(see the seed-demo output above)"}
banner "$login"

# Show the login again once the web process answers: honcho's output buries it.
(
    for _ in $(seq 120); do
        sleep 0.5
        port_taken && { banner "$login"; exit 0; }
    done
) &
banner_pid=$!

# Last run's figures (and the flask commands' above) go: counters start at zero.
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -type f -name '*.db' -delete
say "metrics of every process in $PROMETHEUS_MULTIPROC_DIR"

# Not exec: this shell stays to stop the private Redis when honcho ends.
.venv/bin/honcho start -f Procfile &
app_pid=$!
wait "$app_pid"
