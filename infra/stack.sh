#!/usr/bin/env bash
# Run upload_service (port 8000) and one processor in the foreground against the
# services in the environment; Ctrl-C (or SIGTERM) stops both.
set -euo pipefail
BIN="${VENV:-.venv}/bin"

"$BIN/uvicorn" upload_service.app:create_app --factory --host "${GLOWWORM_HOST:-127.0.0.1}" \
    --port "${GLOWWORM_PORT:-8000}" &
api=$!
"$BIN/python" -m processor.main &
worker=$!

stop() { kill -TERM "$api" "$worker" 2>/dev/null || true; }
trap stop INT TERM
# Whichever stops first takes the other down with it.
wait -n "$api" "$worker" || true
stop
wait "$api" "$worker" 2>/dev/null || true
