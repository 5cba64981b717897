#!/usr/bin/env bash
# Run upload_service (port 8000) and GLOWWORM_PROCESSORS supervised processors (default 1)
# in the foreground against the services in the environment. Ctrl-C (or SIGTERM) stops
# everything.
#
# upload_service is the front door: if it exits, the stack exits with its status. A
# processor is not: one that dies (a crash on a bad file, an OOM kill) must not take the
# API down with it, so each runs under a supervisor that starts it again after a backoff
# (1, 2, 4 ... 30 s; back to 1 s once a processor has run for a minute). Work it had in
# hand is not lost: the broker redelivers it and the job's lease lets the next one in.
set -euo pipefail
BIN="${VENV:-.venv}/bin"
PROCESSORS="${GLOWWORM_PROCESSORS:-1}"
# Backoff between restarts, in seconds: the first delay and the cap.
FIRST_DELAY=1
MAX_DELAY=30
# A processor that ran this long (seconds) was healthy: its next end starts over at 1 s.
HEALTHY_AFTER=60

if ! [[ $PROCESSORS =~ ^[1-9][0-9]*$ ]]; then
    echo "stack: GLOWWORM_PROCESSORS must be a positive integer, not '$PROCESSORS'" >&2
    exit 2
fi

log() { echo "stack: $*" >&2; }

# Wait until process $1 has ended; its exit status goes to $status. A trapped signal
# interrupts `wait` (that is how the trap gets to run), so wait again while it lives.
reap() {
    status=0
    wait "$1" || status=$?
    while kill -0 "$1" 2>/dev/null; do
        status=0
        wait "$1" || status=$?
    done
}

# "status 1", or "SIGKILL" for a process a signal ended (bash reports those as 128 + N).
describe() {
    if (($1 > 128)); then echo "SIG$(kill -l $(($1 - 128)))"; else echo "status $1"; fi
}

# Start "$@" in the background as $pid and reap it. The stop trap below may run between
# the `&` and `pid=$!`, when it had no pid to pass the signal on to: pass it on here.
run() {
    "$@" &
    pid=$!
    if ((stopping)); then kill -TERM "$pid" 2>/dev/null || true; fi
    reap "$pid"
}

# Processor number $1, started again whenever it ends, until this supervisor is told to
# stop. Runs in a subshell of its own, so its traps and variables are its own. Any end
# counts, a clean exit 0 too: a stop the stack wants comes through this supervisor, and
# a stack without a processor accepts uploads it never processes. INT as well as TERM:
# bash does not make a background subshell ignore Ctrl-C as it does a background
# command, and a supervisor that Ctrl-C killed would leave its processor behind.
supervise() {
    local n=$1 delay=$FIRST_DELAY pid='' started ran
    stopping=0
    trap 'stopping=1; if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; fi' INT TERM
    while :; do
        started=$SECONDS
        run "$BIN/python" -m processor.main
        ((stopping)) && return 0
        ran=$((SECONDS - started))
        ((ran >= HEALTHY_AFTER)) && delay=$FIRST_DELAY
        log "processor $n (pid $pid) ended with $(describe "$status") after ${ran}s;" \
            "restarting in ${delay}s"
        # In the background too, so a SIGTERM during the backoff ends it at once.
        run sleep "$delay"
        ((stopping)) && return 0
        delay=$((delay * 2 > MAX_DELAY ? MAX_DELAY : delay * 2))
    done
}

# TERM to all, then wait: uvicorn drains its requests, each supervisor stops its processor
# (which finishes the message in hand) and restarts nothing.
stop_all() {
    trap '' INT TERM # a second Ctrl-C must not cut the clean stop short
    kill -TERM "$api" "${supervisors[@]}" 2>/dev/null || true
    wait || true
}
# Before anything starts, so no signal can leave a child behind.
api=''
supervisors=()
trap 'log "stopping"; stop_all; exit 0' INT TERM

"$BIN/uvicorn" upload_service.app:create_app --factory --host "${GLOWWORM_HOST:-127.0.0.1}" \
    --port "${GLOWWORM_PORT:-8000}" &
api=$!
for n in $(seq "$PROCESSORS"); do
    supervise "$n" &
    supervisors+=($!)
done

reap "$api"
log "upload_service ended with $(describe "$status"); stopping the processors"
api_status=$status
stop_all
exit "$api_status"
