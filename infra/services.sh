#!/usr/bin/env bash
# Local Postgres, RabbitMQ and MinIO on loopback, without Docker.
#
#   infra/services.sh start [SERVICE...]   install what is missing, start all three (or those
#                                          named: postgres rabbitmq minio), write and print the env file
#   infra/services.sh stop [SERVICE...]    stop what this script started (by PID), tolerant of things
#                                          already down; the fault tests stop one service at a time
#   infra/services.sh status   one line per service: up/down (exit 1 if any is down)
#   infra/services.sh env      print the env file (eval "$(infra/services.sh env)")
#   infra/services.sh logs [N] the last N (40) lines of each service's log, and of every log
#                              under logs/tests (the test session's processors and API servers)
#   infra/services.sh rabbitmqctl ARGS...   run rabbitmqctl against our node (debugging aid)
#
# Everything (data, logs, pid files, env file) lives under $GLOWWORM_SERVICES_DIR
# (default: <repo>/.services). Progress goes to stderr; only `start` and `env` print
# the env file to stdout, so `eval "$(infra/services.sh start)"` works, and `logs` prints
# to stdout. When `start` fails to bring a service up, that service's log tail goes to stderr.
# See infra/README.md for the ports, the layout and the MinIO -> RabbitMQ wiring.
set -euo pipefail

# --- configuration -----------------------------------------------------------------------------

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SVC_DIR="${GLOWWORM_SERVICES_DIR:-$REPO_ROOT/.services}"
mkdir -p "$SVC_DIR"
SVC_DIR="$(cd "$SVC_DIR" && pwd)"   # absolute: MinIO's queue_dir must be, and PIDs outlive our cwd

PG_PORT="${GLOWWORM_PG_PORT:-5432}"
AMQP_PORT="${GLOWWORM_AMQP_PORT:-5672}"
# Erlang distribution port of the node. RabbitMQ's own default is AMQP port + 20000.
AMQP_DIST_PORT="${GLOWWORM_AMQP_DIST_PORT:-$((AMQP_PORT + 20000))}"
AMQP_MGMT_PORT="${GLOWWORM_AMQP_MGMT_PORT:-$((AMQP_PORT + 10000))}"
S3_PORT="${GLOWWORM_S3_PORT:-9000}"
S3_CONSOLE_PORT="${GLOWWORM_S3_CONSOLE_PORT:-9001}"
# Node names must be unique per host: a second instance on other ports gets its own.
if [[ "$AMQP_PORT" == 5672 ]]; then RABBIT_NODE=glowworm@localhost; else RABBIT_NODE="glowworm-$AMQP_PORT@localhost"; fi
RABBIT_NODE="${GLOWWORM_RABBITMQ_NODE:-$RABBIT_NODE}"
# The management plugin (UI + HTTP API on 127.0.0.1:15672) adds ~1 s to boot and ~5 s to a
# clean shutdown; on by default, GLOWWORM_RABBITMQ_MANAGEMENT=0 leaves it out.
RABBIT_MANAGEMENT="${GLOWWORM_RABBITMQ_MANAGEMENT:-1}"

# MinIO is built from source with `go install` (no prebuilt binaries can be fetched here).
# One pinned version; the installed binary is checked against it with `go version -m`.
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

DB_USER=glowworm
DB_PASSWORD=glowworm
DB_NAME=glowworm
AMQP_USER=glowworm
AMQP_PASSWORD=glowworm
S3_ACCESS_KEY=glowworm
S3_SECRET_KEY=glowworm-secret
# Name of MinIO's AMQP notification target. MinIO takes it from the env var suffix exactly as
# written (MINIO_NOTIFY_AMQP_ENABLE_glowworm -> arn:minio:sqs::glowworm:amqp); an upper-case
# suffix would give arn:minio:sqs::GLOWWORM:amqp, and ARNs are compared case-sensitively.
MINIO_TARGET=glowworm
S3_EVENTS_EXCHANGE=glowworm.s3-events
S3_EVENTS_ROUTING_KEY=originals

LOG_DIR="$SVC_DIR/logs"
RUN_DIR="$SVC_DIR/run"
ENV_FILE="$SVC_DIR/env"
RABBIT_DIR="$SVC_DIR/rabbitmq"
MINIO_DIR="$SVC_DIR/minio"
# Where `make test` has the test session's processors and API servers log (tests/conftest.py).
TEST_LOG_DIR="$LOG_DIR/tests"
# How many lines of each log `logs` shows by default, and a failed `start` shows.
LOG_TAIL_LINES=40

# --- small helpers -----------------------------------------------------------------------------

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# show_log NAME FILE [N]: the last N lines of FILE under a heading naming it and its path;
# nothing when FILE does not exist (a service never started here has no log).
show_log() {
    local name="$1" file="$2" n="${3:-$LOG_TAIL_LINES}"
    [[ -f "$file" ]] || return 0
    printf '\n===== %s: last %s lines of %s =====\n' "$name" "$n" "$file"
    if [[ -s "$file" ]]; then tail -n "$n" "$file" 2>&1 || true; else echo "(empty)"; fi
}

# now_ms: wall clock in milliseconds (bash 5's EPOCHREALTIME, no external tools).
now_ms() { local t="${EPOCHREALTIME/./}"; echo $((t / 1000)); }

# seconds_since T0_MS: "12.3s"
seconds_since() { local d=$(($(now_ms) - $1)); printf '%d.%ds' $((d / 1000)) $((d % 1000 / 100)); }

# run_timed LABEL CMD...: runs CMD and reports how long it took.
run_timed() {
    local label="$1"; shift
    local t0; t0="$(now_ms)"
    "$@"
    log "$(printf '%-10s took %s' "$label" "$(seconds_since "$t0")")"
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# require_free_port PORT WHAT: refuse to start a service onto a port someone else holds.
require_free_port() {
    if port_open "$1"; then
        die "port $1 ($2) is already in use by a process this script did not start; stop it or set the GLOWWORM_*_PORT variable"
    fi
}

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds; false on timeout.
wait_for() {
    local timeout="$1"; shift
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# pid_alive PIDFILE NAME: the PID in PIDFILE is running and its command name starts with NAME.
# Checking the name guards against a stale pid file whose PID was reused by something else.
pid_alive() {
    local pidfile="$1" name="$2" pid comm
    [[ -s "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [[ -n "$pid" ]] || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
    [[ "$comm" == "$name"* ]]
}

# kill_pidfile PIDFILE NAME: TERM, wait up to 20 s, then KILL; removes the pid file.
kill_pidfile() {
    local pidfile="$1" name="$2" pid
    if pid_alive "$pidfile" "$name"; then
        pid="$(tr -dc '0-9' <"$pidfile")"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for 20 eval "! kill -0 $pid 2>/dev/null"; then
            log "$name (pid $pid) ignored SIGTERM for 20 s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

# spawn PIDFILE LOGFILE CMD...: starts CMD in the background, detached from our session and
# stdio (so make/CI pipes are not held open), and records its PID. setsid and nohup both exec,
# so $! is CMD's own PID.
spawn() {
    local pidfile="$1" logfile="$2"; shift 2
    setsid nohup "$@" >>"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
}

# --- installation ------------------------------------------------------------------------------

deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_debian_packages() {
    local missing=() pkg
    for pkg in postgresql rabbitmq-server curl; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || die "missing Debian packages (${missing[*]}); run as root or install them"
    log "installing ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

find_go() {
    if command -v go >/dev/null; then echo go
    elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go   # CI may lack it on PATH
    else die "Go 1.24+ is needed to build MinIO and was not found"
    fi
}

minio_bin() {
    local go gobin
    go="$(find_go)"
    gobin="$("$go" env GOBIN)"
    echo "${gobin:-$("$go" env GOPATH)/bin}/minio"
}

# The module version a binary was built from, read from its embedded build info.
minio_built_version() {
    "$(find_go)" version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "'"$MINIO_MODULE"'" { print $3 }'
}

# Another `go install` of MinIO (ours from a parallel run, or one started by hand) is running:
# wait for it instead of compiling the same thing twice on two cores.
wait_for_foreign_minio_build() {
    if pgrep -f "go install $MINIO_MODULE@" >/dev/null; then
        log "a MinIO build is already running, waiting for it (up to 30 min)"
        wait_for 1800 eval "! pgrep -f 'go install $MINIO_MODULE@' >/dev/null" \
            || die "the running MinIO build did not finish within 30 min"
    fi
}

install_minio() {
    local bin go
    bin="$(minio_bin)"
    go="$(find_go)"
    [[ "$(minio_built_version "$bin")" == "$MINIO_VERSION" ]] && return 0
    wait_for_foreign_minio_build
    mkdir -p "$(dirname "$bin")"
    # flock: two concurrent `start`s must not both build.
    (
        flock 9
        [[ "$(minio_built_version "$bin")" == "$MINIO_VERSION" ]] && exit 0
        log "building MinIO $MINIO_VERSION with $("$go" version | cut -d' ' -f3) (about 7 min on 2 cores; log: $LOG_DIR/minio-build.log)"
        "$go" install "$MINIO_MODULE@$MINIO_VERSION" >"$LOG_DIR/minio-build.log" 2>&1 \
            || { tail -20 "$LOG_DIR/minio-build.log" >&2; die "MinIO build failed"; }
    ) 9>"$(dirname "$bin")/.minio-build.lock"
    [[ "$(minio_built_version "$bin")" == "$MINIO_VERSION" ]] || die "$bin is not MinIO $MINIO_VERSION after building"
}

install_all() {
    install_debian_packages
    install_minio
}

# --- Postgres ----------------------------------------------------------------------------------

pg_bindir() {
    # Newest installed major version (Debian 12: 15).
    local dir
    dir="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    [[ -x "$dir/postgres" ]] || dir=""
    [[ -n "$dir" ]] || die "no Postgres found under /usr/lib/postgresql"
    echo "$dir"
}

# Postgres refuses to run as root, so its files belong to the postgres user and every
# pg command runs through runuser. It needs to traverse every parent of its data dir; a
# clone in e.g. /root/x or a 0700 folder would not allow that, and a unix socket path must
# stay under 107 bytes. In either case the data goes to /var/tmp, keyed by the services dir.
pg_root() {
    local preferred="$SVC_DIR/postgres"
    if runuser -u postgres -- test -x "$SVC_DIR" 2>/dev/null && ((${#preferred} < 80)); then
        echo "$preferred"
    else
        echo "/var/tmp/glowworm-postgres-$(printf '%s' "$SVC_DIR" | cksum | cut -d' ' -f1)"
    fi
}
# Set by pg_paths once the postgres user exists (it is created by the package install).
PG_ROOT=""
PG_DATA=""
pg_paths() {
    if id postgres >/dev/null 2>&1; then PG_ROOT="$(pg_root)"; else PG_ROOT="$SVC_DIR/postgres"; fi
    PG_DATA="$PG_ROOT/data"
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }   # cd /: postgres cannot read root's cwd

pg_running() { [[ -f "$PG_DATA/PG_VERSION" ]] && id postgres >/dev/null 2>&1 && as_postgres "$(pg_bindir)/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }

pg_init() {
    [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
    [[ "$PG_ROOT" == "$SVC_DIR/postgres" ]] \
        || log "postgres cannot reach $SVC_DIR (or the path is too long for a socket); its data lives in $PG_ROOT"
    mkdir -p "$PG_ROOT"
    chown postgres:postgres "$PG_ROOT"
    chmod 700 "$PG_ROOT"
    # peer auth on the socket (the postgres OS user administers), passwords over TCP.
    as_postgres "$(pg_bindir)/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 --no-sync >"$LOG_DIR/postgres-initdb.log" 2>&1 \
        || { cat "$LOG_DIR/postgres-initdb.log" >&2; die "initdb failed"; }
    echo "include_if_exists = 'glowworm.conf'" | as_postgres tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

pg_write_conf() {
    # Rewritten on every start so a changed GLOWWORM_PG_PORT takes effect.
    as_postgres tee "$PG_DATA/glowworm.conf" >/dev/null <<EOF
# Written by infra/services.sh on every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
# Socket inside the data dir: /var/run/postgresql may not exist or belong to a system cluster.
unix_socket_directories = '$PG_DATA'
# Local development and CI only: durability traded for speed. Never in production.
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
}

pg_psql() {
    as_postgres "$(pg_bindir)/psql" -h "$PG_DATA" -p "$PG_PORT" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -q
}

pg_create_role_and_db() {
    # SUPERUSER: tests create and drop their own databases; this is a local dev cluster.
    pg_psql >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')
\gexec
SQL
}

start_postgres() {
    if pg_running; then log "postgres   already running (port $PG_PORT, data $PG_DATA)"; return 0; fi
    require_free_port "$PG_PORT" postgres
    pg_init
    pg_write_conf
    # A failure here, as anywhere in start_postgres, prints postgres.log's tail (on_start_exit).
    as_postgres "$(pg_bindir)/pg_ctl" start -D "$PG_DATA" -l "$PG_ROOT/postgres.log" -w -t 60 >/dev/null \
        || die "postgres did not start"
    pg_create_role_and_db
    log "postgres   up on 127.0.0.1:$PG_PORT (data $PG_DATA)"
}

stop_postgres() {
    if pg_running; then
        as_postgres "$(pg_bindir)/pg_ctl" stop -D "$PG_DATA" -m fast -w >/dev/null
        log "postgres   stopped"
    fi
}

# --- RabbitMQ ----------------------------------------------------------------------------------

# Debian's /usr/sbin/rabbitmq* wrappers `su` to the rabbitmq user when run as root, which would
# need our services dir to belong to rabbitmq. The real scripts behind them run the node as
# whoever calls them (root here, any user elsewhere), so the node, its files and the Erlang
# cookie all belong to the caller, and rabbitmqctl run by the same user can read the cookie.
RABBIT_SBIN=/usr/lib/rabbitmq/bin

rabbit_env() {
    # HOME: the Erlang cookie ($HOME/.erlang.cookie) is created there on first boot.
    env HOME="$RABBIT_DIR" \
        RABBITMQ_NODENAME="$RABBIT_NODE" \
        RABBITMQ_DIST_PORT="$AMQP_DIST_PORT" \
        RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf" \
        RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf" \
        RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_DIR/advanced.config" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" \
        RABBITMQ_LOG_BASE="$RABBIT_DIR/log" \
        RABBITMQ_PID_FILE="$RABBIT_DIR/rabbitmq.pid" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        "$@"
}

rabbitmqctl() { rabbit_env "$RABBIT_SBIN/rabbitmqctl" -n "$RABBIT_NODE" "$@"; }

rabbit_running() { pid_alive "$RABBIT_DIR/rabbitmq.pid" beam; }

rabbit_write_conf() {
    mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
    # default_user/default_pass create the user with full permissions on vhost / when the
    # node boots with an empty database (first start); later starts keep what is stored.
    cat >"$RABBIT_DIR/rabbitmq.conf" <<EOF
# Written by infra/services.sh on every start.
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
loopback_users = none
default_vhost = /
default_user = $AMQP_USER
default_pass = $AMQP_PASSWORD
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
management.tcp.ip = 127.0.0.1
management.tcp.port = $AMQP_MGMT_PORT
# A small CI disk must not trip the free-disk alarm, which blocks all publishers.
disk_free_limit.absolute = 100MB
log.console = false
log.file.level = info
EOF
    if [[ "$RABBIT_MANAGEMENT" == 1 ]]; then
        echo '[rabbitmq_management].' >"$RABBIT_DIR/enabled_plugins"
    else
        echo '[].' >"$RABBIT_DIR/enabled_plugins"
    fi
}

# epmd (the Erlang port mapper) is needed by the node and by rabbitmqctl. If none is running we
# start our own on loopback and remember its PID so `stop` ends it; one that was already
# running is someone else's and is left alone.
start_epmd() {
    if pid_alive "$RUN_DIR/epmd.pid" epmd || epmd -names >/dev/null 2>&1; then return 0; fi
    spawn "$RUN_DIR/epmd.pid" "$LOG_DIR/epmd.log" epmd -address 127.0.0.1
    wait_for 10 eval "epmd -names >/dev/null 2>&1" || die "epmd did not start"
}

start_rabbitmq() {
    if rabbit_running; then log "rabbitmq   already running (node $RABBIT_NODE, port $AMQP_PORT)"; return 0; fi
    require_free_port "$AMQP_PORT" "rabbitmq amqp"
    require_free_port "$AMQP_DIST_PORT" "rabbitmq erlang distribution"
    rabbit_write_conf
    start_epmd
    rm -f "$RABBIT_DIR/rabbitmq.pid"
    # -detached: the VM daemonises and writes RABBITMQ_PID_FILE itself.
    rabbit_env "$RABBIT_SBIN/rabbitmq-server" -detached >>"$LOG_DIR/rabbitmq-start.log" 2>&1 </dev/null
    # The AMQP listener opens last in boot, after the default user exists.
    wait_for 90 port_open "$AMQP_PORT" \
        || die "rabbitmq did not open port $AMQP_PORT within 90 s (logs: $RABBIT_DIR/log)"
    wait_for 10 rabbit_running || die "rabbitmq wrote no pid file"
    rabbit_env "$RABBIT_SBIN/rabbitmq-diagnostics" -q -n "$RABBIT_NODE" ping >/dev/null \
        || die "rabbitmq-diagnostics ping failed"
    log "rabbitmq   up on 127.0.0.1:$AMQP_PORT (node $RABBIT_NODE, dist port $AMQP_DIST_PORT$(
        [[ "$RABBIT_MANAGEMENT" == 1 ]] && echo ", management http://127.0.0.1:$AMQP_MGMT_PORT"))"
}

stop_rabbitmq() {
    if rabbit_running; then
        # SIGTERM makes the node shut down cleanly (RabbitMQ's own signal handler), like
        # `rabbitmqctl stop`, without paying for a CLI VM start.
        kill_pidfile "$RABBIT_DIR/rabbitmq.pid" beam
        log "rabbitmq   stopped"
    fi
    if pid_alive "$RUN_DIR/epmd.pid" epmd; then
        kill_pidfile "$RUN_DIR/epmd.pid" epmd
        log "epmd       stopped"
    fi
    rm -f "$RUN_DIR/epmd.pid"
}

# --- MinIO -------------------------------------------------------------------------------------

minio_running() { pid_alive "$RUN_DIR/minio.pid" minio; }
minio_ready() { curl -sf -o /dev/null "http://127.0.0.1:$S3_PORT/minio/health/ready"; }

# The notification target, as MinIO env vars (internal/config/notify/parse.go, GetNotifyAMQP).
# Why each setting: infra/README.md. $1 is the broker host.
minio_notify_env() {
    local host="$1" t="$MINIO_TARGET"
    cat <<EOF
MINIO_NOTIFY_AMQP_ENABLE_$t=on
MINIO_NOTIFY_AMQP_URL_$t=amqp://$AMQP_USER:$AMQP_PASSWORD@$host:$AMQP_PORT
MINIO_NOTIFY_AMQP_EXCHANGE_$t=$S3_EVENTS_EXCHANGE
MINIO_NOTIFY_AMQP_EXCHANGE_TYPE_$t=fanout
MINIO_NOTIFY_AMQP_ROUTING_KEY_$t=$S3_EVENTS_ROUTING_KEY
MINIO_NOTIFY_AMQP_DURABLE_$t=on
MINIO_NOTIFY_AMQP_DELIVERY_MODE_$t=2
MINIO_NOTIFY_AMQP_PUBLISHING_CONFIRMS_$t=on
MINIO_NOTIFY_AMQP_QUEUE_DIR_$t=$MINIO_DIR/events
MINIO_NOTIFY_AMQP_QUEUE_LIMIT_$t=100000
EOF
}

# Region is empty because we set none; the ID is the env var suffix, case included.
minio_target_arn() { echo "arn:minio:sqs::$MINIO_TARGET:amqp"; }

start_minio() {
    if minio_running && minio_ready; then log "minio      already running (port $S3_PORT)"; return 0; fi
    minio_running && kill_pidfile "$RUN_DIR/minio.pid" minio   # alive but not ready: restart it
    require_free_port "$S3_PORT" "minio api"
    require_free_port "$S3_CONSOLE_PORT" "minio console"
    mkdir -p "$MINIO_DIR/data" "$MINIO_DIR/events"
    local -a notify
    mapfile -t notify < <(minio_notify_env 127.0.0.1)
    spawn "$RUN_DIR/minio.pid" "$LOG_DIR/minio.log" env \
        MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" \
        "${notify[@]}" \
        "$(minio_bin)" server "$MINIO_DIR/data" \
        --address "127.0.0.1:$S3_PORT" --console-address "127.0.0.1:$S3_CONSOLE_PORT"
    wait_for 60 minio_ready || die "minio did not become ready within 60 s (log: $LOG_DIR/minio.log)"
    log "minio      up on 127.0.0.1:$S3_PORT (console 127.0.0.1:$S3_CONSOLE_PORT, target $(minio_target_arn))"
}

stop_minio() {
    if minio_running; then
        kill_pidfile "$RUN_DIR/minio.pid" minio
        log "minio      stopped"
    fi
    rm -f "$RUN_DIR/minio.pid"
}

# --- env file ----------------------------------------------------------------------------------

write_env_file() {
    cat >"$ENV_FILE" <<EOF
export GLOWWORM_DATABASE_URL=postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME
export GLOWWORM_AMQP_URL=amqp://$AMQP_USER:$AMQP_PASSWORD@127.0.0.1:$AMQP_PORT//
export GLOWWORM_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export GLOWWORM_S3_PUBLIC_ENDPOINT=http://127.0.0.1:$S3_PORT
export GLOWWORM_S3_ACCESS_KEY=$S3_ACCESS_KEY
export GLOWWORM_S3_SECRET_KEY=$S3_SECRET_KEY
export GLOWWORM_S3_NOTIFY_ARN=$(minio_target_arn)
# Services on loopback with this script's well-known passwords: a development machine.
export GLOWWORM_ALLOW_DEFAULT_SECRETS=true
EOF
}

# --- logs --------------------------------------------------------------------------------------

# service_logs SERVICE: "NAME FILE" for each log SERVICE writes, one a line.
service_logs() {
    case "$1" in
        postgres) echo "postgres $PG_ROOT/postgres.log" ;;
        rabbitmq) echo "rabbitmq $RABBIT_DIR/log/$RABBIT_NODE.log"
                  echo "rabbitmq-start $LOG_DIR/rabbitmq-start.log" ;;
        minio) echo "minio $LOG_DIR/minio.log" ;;
    esac
}

# show_service_logs SERVICE [N]: the tail of each of SERVICE's logs.
show_service_logs() {
    local name file
    while read -r name file; do show_log "$name" "$file" "${2:-$LOG_TAIL_LINES}"; done < <(service_logs "$1")
}

# The service cmd_start is bringing up, for on_start_exit.
STARTING=""

# EXIT trap of `start`: if it fails (die, or any command under set -e) while bringing a
# service up, that service's log tail follows the error, so the reason is on screen.
on_start_exit() {
    local code=$?
    if ((code != 0)) && [[ -n "$STARTING" ]]; then
        log "$STARTING did not start; the end of its log:"
        show_service_logs "$STARTING" >&2
    fi
}

# --- subcommands -------------------------------------------------------------------------------

# wanted NAME [SERVICES...]: true when no services were named, or NAME is among them.
wanted() { local name="$1"; shift; [[ $# -eq 0 ]] && return 0; [[ " $* " == *" $name "* ]]; }

check_service_names() {
    local name
    for name in "$@"; do
        case "$name" in postgres|rabbitmq|minio) ;; *) die "unknown service '$name' (postgres, rabbitmq, minio)" ;; esac
    done
}

cmd_start() {
    local t0; t0="$(now_ms)"
    check_service_names "$@"
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    run_timed install install_all
    pg_paths
    trap on_start_exit EXIT
    if wanted postgres "$@"; then STARTING=postgres; run_timed postgres start_postgres; fi
    if wanted rabbitmq "$@"; then STARTING=rabbitmq; run_timed rabbitmq start_rabbitmq; fi
    # After RabbitMQ, so the notification target connects at once (with queue_dir MinIO would
    # also start without it, storing events until the broker is up).
    if wanted minio "$@"; then STARTING=minio; run_timed minio start_minio; fi
    STARTING=""
    write_env_file
    log "$(printf '%-10s took %s   env file: %s' total "$(seconds_since "$t0")" "$ENV_FILE")"
    cat "$ENV_FILE"
}

cmd_stop() {
    check_service_names "$@"
    pg_paths
    # Reverse order: MinIO first, so it does not spool events for a broker that is going away.
    if wanted minio "$@"; then run_timed minio stop_minio; fi
    if wanted rabbitmq "$@"; then run_timed rabbitmq stop_rabbitmq; fi
    if wanted postgres "$@"; then run_timed postgres stop_postgres; fi
}

cmd_status() {
    local down=0
    pg_paths
    report() { if "${@:3}"; then log "$(printf '%-10s up   %s' "$1" "$2")"; else log "$(printf '%-10s down' "$1")"; down=1; fi; }
    report postgres "127.0.0.1:$PG_PORT  $PG_DATA" pg_running
    report rabbitmq "127.0.0.1:$AMQP_PORT  node $RABBIT_NODE" rabbit_running
    report minio "127.0.0.1:$S3_PORT  $MINIO_DIR/data" minio_running
    return "$down"
}

cmd_logs() {
    local n="${1:-$LOG_TAIL_LINES}" service file
    [[ "$n" =~ ^[0-9]+$ ]] || die "logs takes a number of lines, not '$n'"
    pg_paths
    for service in postgres rabbitmq minio; do show_service_logs "$service" "$n"; done
    if [[ -d "$TEST_LOG_DIR" ]]; then
        while IFS= read -r file; do
            show_log "tests/${file#"$TEST_LOG_DIR/"}" "$file" "$n"
        done < <(find "$TEST_LOG_DIR" -type f | sort)
    fi
}

cmd_env() {
    [[ -f "$ENV_FILE" ]] || die "no env file yet: run infra/services.sh start"
    cat "$ENV_FILE"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    logs) shift; cmd_logs "$@" ;;
    rabbitmqctl) shift; rabbitmqctl "$@" ;;
    *) echo "usage: $0 start [SERVICE...]|stop [SERVICE...]|status|env|logs [N]|rabbitmqctl ARGS..." >&2; exit 2 ;;
esac
