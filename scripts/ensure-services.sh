#!/usr/bin/env bash
# Make PostgreSQL, Redis and Chromium available for `make test` (idempotent).
#
# Starts what is installed but down; installs with apt-get what is missing
# (needs root). PostgreSQL is expected on 127.0.0.1:5432 with trust auth for
# user postgres and a database `test`; Redis on 127.0.0.1:6379.
set -euo pipefail

PG_HOST=127.0.0.1
PG_USER=postgres
PG_DB=test
WAIT_SECONDS=${WAIT_SECONDS:-30}
export DEBIAN_FRONTEND=noninteractive

say() { printf 'ensure-services: %s\n' "$*"; }
die() { printf 'ensure-services: ERROR: %s\n' "$*" >&2; exit 1; }

apt_updated=0
apt_install() {
    [[ $EUID -eq 0 ]] || die "need root to apt-get install $*; install them yourself and re-run"
    if [[ $apt_updated -eq 0 ]]; then
        say "apt-get update"
        apt-get -o DPkg::Lock::Timeout=120 update -q
        apt_updated=1
    fi
    say "apt-get install $*"
    apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends "$@"
}

# wait_for NAME COMMAND... : retry COMMAND once a second for WAIT_SECONDS.
wait_for() {
    local name=$1 waited=0
    shift
    until "$@" >/dev/null 2>&1; do
        if ((waited >= WAIT_SECONDS)); then
            die "$name did not answer within ${WAIT_SECONDS}s (checked with: $*)"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "$name is up"
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

# A fresh cluster from apt uses scram for TCP; the suite connects as postgres
# without a password, so only a cluster we just installed gets trust on loopback.
pg_trust_loopback() {
    local hba
    hba="/etc/postgresql/$(pg_version)/main/pg_hba.conf"
    grep -q '^host all all 127.0.0.1/32 trust' "$hba" && return 0
    say "setting trust auth for 127.0.0.1 and ::1 in $hba (fresh install)"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload
}

ensure_postgres() {
    local fresh=0
    if ! command -v pg_ctlcluster >/dev/null || [[ -z "$(pg_version)" ]]; then
        apt_install postgresql
        fresh=1
    fi
    if ! pg_isready -h "$PG_HOST" -q; then
        say "starting PostgreSQL $(pg_version)"
        pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main start \
            || say "pg_ctlcluster start failed; waiting in case it is starting anyway"
    fi
    wait_for PostgreSQL pg_isready -h "$PG_HOST" -q
    if [[ $fresh -eq 1 ]]; then
        pg_trust_loopback
    fi
    psql -h "$PG_HOST" -U "$PG_USER" -d postgres -tAc 'select 1' >/dev/null \
        || die "cannot connect as $PG_USER to $PG_HOST without a password (pg_hba.conf needs trust)"
    if [[ "$(psql -h "$PG_HOST" -U "$PG_USER" -d postgres -tAc \
        "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]]; then
        say "creating database $PG_DB"
        createdb -h "$PG_HOST" -U "$PG_USER" "$PG_DB"
    fi
}

redis_ok() { [[ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" == PONG ]]; }

ensure_redis() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        apt_install redis-server
    fi
    if ! redis_ok; then
        say "starting Redis on 127.0.0.1:6379"
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    fi
    wait_for Redis redis_ok
}

ensure_chromium() {
    if [[ ! -x /usr/bin/chromium ]] || ! command -v chromedriver >/dev/null; then
        apt_install chromium chromium-driver
    fi
    say "$(/usr/bin/chromium --version 2>/dev/null || echo 'chromium installed')"
}

ensure_postgres
ensure_redis
ensure_chromium
say "all services ready"
