#!/usr/bin/env bash
# Fuzz the live JSON API against its own OpenAPI document with Schemathesis.
#
# Starts gunicorn on a free port with a throw-away SQLite database, an admin and
# an API token, creates a few jobs so reads hit real rows, runs `schemathesis run`
# and exits with its status. The server is always stopped; its log is shown on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
TIME_LIMIT=${SCHEMATHESIS_TIME_LIMIT:-600}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-30}
# One worker: Hypothesis ast.parse()s lambda sources, and CPython 3.11's AST
# constructor is not thread-safe (spurious "AST constructor recursion depth
# mismatch" SystemErrors, python/cpython#106905), so two workers flake.
WORKERS=${SCHEMATHESIS_WORKERS:-1}
[[ -x $BIN/schemathesis ]] || { echo "schemathesis: run \`make venv\` first" >&2; exit 1; }

workdir=$(mktemp -d /tmp/almanac-schemathesis.XXXXXX)
server_log=$workdir/server.log
server_pid=

cleanup() {
    local status=$?
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -s $server_log ]]; then
        printf '\n--- server log (last 80 lines) ---\n' >&2
        tail -n 80 "$server_log" >&2
    fi
    rm -rf "$workdir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export FLASK_APP=app:create_app
export DATABASE_URL="sqlite:///$workdir/fuzz.db"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export RATELIMIT_ENABLED=false
SECRET_KEY=$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(32))')
export SECRET_KEY
PORT=$($BIN/python -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
base=http://127.0.0.1:$PORT/api/v1

echo "schemathesis: preparing $DATABASE_URL"
$BIN/flask db upgrade >"$workdir/setup.log" 2>&1 || { cat "$workdir/setup.log" >&2; exit 1; }
$BIN/flask sync-tasks
password=$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(18))')
$BIN/flask create-user --email fuzz-admin@example.com --role admin --password "$password"
TOKEN=$($BIN/flask create-token --email fuzz-admin@example.com --name fuzz | tail -n 1)
[[ -n $TOKEN ]] || { echo "schemathesis: create-token printed no token" >&2; exit 1; }

# gunicorn >= 24 opens a control socket in ~/.gunicorn; keep off a running `make run`'s.
extra=()
if $BIN/gunicorn --help | grep -q -- --no-control-socket; then extra+=(--no-control-socket); fi
echo "schemathesis: starting gunicorn on 127.0.0.1:$PORT"
$BIN/gunicorn --bind "127.0.0.1:$PORT" --workers 2 "${extra[@]}" 'app:create_app()' \
    >"$server_log" 2>&1 &
server_pid=$!

for _ in $(seq 60); do
    if curl -fsS -o /dev/null "$base/openapi.json" 2>/dev/null; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "schemathesis: server died" >&2; exit 1; }
    sleep 0.5
done
curl -fsS -o /dev/null "$base/openapi.json" \
    || { echo "schemathesis: $base/openapi.json did not answer 200 in 30 s" >&2; exit 1; }

# create PATH BODY : POST one object so reads and the links from lists meet real rows.
create() {
    local code
    code=$(curl -sS -o "$workdir/created.json" -w '%{http_code}' -X POST "$base$1" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data "$2")
    if [[ $code != 201 ]]; then
        echo "schemathesis: POST $1 answered $code: $(cat "$workdir/created.json")" >&2
        exit 1
    fi
}
create_job() { create /jobs "$1"; }
create_job '{"name": "fuzz", "taskFunction": "noop", "scheduleConfig": {"seconds": 60}}'
create_job '{"name": "fuzz cron", "taskFunction": "sleep", "jobType": "cron",
  "scheduleConfig": {"expression": "30 2 * * *"}, "timezone": "Europe/Berlin",
  "taskArgs": {"seconds": 1}}'
create_job '{"name": "fuzz once", "taskFunction": "noop", "jobType": "date",
  "scheduleConfig": {"runAt": "2030-12-01T09:00:00"}}'
# Not delivered (no worker runs); the list's links then reach get/put/ping/deliveries.
create /webhooks '{"url": "https://example.com/almanac-hook", "phase": "failed"}'

# SCHEMATHESIS_SEED replays a run (the seed is printed in its summary).
seed=()
if [[ -n ${SCHEMATHESIS_SEED:-} ]]; then seed=(--seed "$SCHEMATHESIS_SEED"); fi
echo "schemathesis: fuzzing $base (at most ${TIME_LIMIT}s)"
status=0
# Every check, in every phase that generates requests; the known exclusions (rules that
# JSON Schema cannot state) are listed with their reasons in schemathesis.toml.
timeout "$TIME_LIMIT" $BIN/schemathesis --no-color --config-file schemathesis.toml \
    run "$base/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" --workers "$WORKERS" "${seed[@]}" || status=$?
if [[ $status -eq 124 ]]; then
    echo "schemathesis: timed out after ${TIME_LIMIT}s" >&2
fi
exit "$status"
