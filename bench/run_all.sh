#!/usr/bin/env bash
# Every benchmark in turn, figures only (the processes' own logs are filtered out).
# Needs PostgreSQL and Redis as for the tests; takes well over an hour (3 alternating pairs each).
set -uo pipefail
cd "$(dirname "$0")/.."
run() {
    echo "### python -m $*"
    .venv/bin/python -u -m "$@" 2>&1 | grep --line-buffered -v " INFO \| WARNING \|^\s*$"
}
run bench.lateness --mode spread --due 100 --poll 0.1
run bench.lateness --mode burst --due 1000 --poll 0.1
run bench.lateness --mode burst --due 10000 --poll 0.1 --drain 900
run bench.throughput --runs 2000 --worker-class simple
run bench.throughput --runs 1000 --worker-class fork
run bench.scale --jobs 100000 --idle-jobs 10000 --idle-seconds 30
run bench.retries --items 10000 --processes 1 2
run bench.ui --jobs 100000 --executions 1000000 --requests 30
