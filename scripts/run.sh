#!/usr/bin/env bash
# `make run`: migrate, make sure a Redis answers, serve with daphne on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DEBUG="${DEBUG:-1}"
REDIS_URL="$($PY scripts/ensure_redis.py)"
export REDIS_URL
$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput >/dev/null
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
echo "authsite on http://$HOST:$PORT/ (Redis at ${REDIS_URL##*@})"
# ops.serve is daphne with an access log that redacts OAuth codes and tokens in URLs.
exec $PY -m ops.serve -b "$HOST" -p "$PORT" authsite.asgi:application
