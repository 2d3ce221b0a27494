#!/usr/bin/env bash
# `make stop`: stop the private Redis `make run` started (a REDIS_URL you gave is
# never touched) and forget the recorded URL.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR="${AUTHSITE_RUN_DIR:-.run}"
stopped=0
for pidfile in "$RUN_DIR"/redis-*.pid; do
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  # Only a redis-server: a stale pidfile's number may belong to something else by now.
  if ps -p "$pid" -o comm= 2>/dev/null | grep -q redis && kill "$pid" 2>/dev/null; then
    echo "Stopped the private Redis (pid $pid)."
    stopped=1
  fi
  rm -f "$pidfile"
done
rm -f "$RUN_DIR/redis.url" "$RUN_DIR/redis-private.url"
[ "$stopped" = 1 ] || echo "No private Redis was running."
