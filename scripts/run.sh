#!/usr/bin/env bash
# `make run`: migrate, make sure a Redis answers, serve with daphne on $HOST:$PORT
# (default 127.0.0.1:8000). The Redis URL the site uses is recorded in
# .run/redis.url, so `manage.py` run from another terminal acts on the same Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DEBUG="${DEBUG:-1}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
# Check the port before anything else: daphne would print its banner and only then die.
if ! $PY scripts/port_free.py "$HOST" "$PORT"; then
  echo "Port $PORT on $HOST is already in use (another \`make run\`?)." >&2
  echo "Pick another with PORT, e.g. \`make run PORT=8001\` (HOST picks the address to listen on)." >&2
  exit 1
fi
REDIS_URL="$($PY scripts/ensure_redis.py)"
export REDIS_URL
RUN_DIR="${AUTHSITE_RUN_DIR:-.run}"
mkdir -p "$RUN_DIR"
printf '%s\n' "$REDIS_URL" > "$RUN_DIR/redis.url"
# One metrics directory for the site and for manage.py acting on it (Prometheus
# multiprocess mode), emptied per run as prometheus_client requires.
rm -rf "$RUN_DIR/prometheus" && mkdir -p "$RUN_DIR/prometheus"
PROMETHEUS_MULTIPROC_DIR="$(cd "$RUN_DIR/prometheus" && pwd)"
export PROMETHEUS_MULTIPROC_DIR
$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput >/dev/null
echo "authsite on http://$HOST:$PORT/ (Redis at ${REDIS_URL##*@}; \`make stop\` stops a private one)"
# ops.serve is daphne with an access log that redacts OAuth codes and tokens in URLs.
exec $PY -m ops.serve -b "$HOST" -p "$PORT" authsite.asgi:application
