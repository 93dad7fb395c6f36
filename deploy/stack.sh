#!/usr/bin/env bash
# Starts or stops the whole system locally without Docker: PostgreSQL (the one configured, the one
# answering on LOCAL_PG_ADDRESS, or the embedded one from npm), the Kafka broker or cluster
# (deploy/kafka/kafka.sh) unless KAFKA_BROKERS names one, then all eight services (the console last, on STACK_PORT_BASE+7: http://127.0.0.1:8088), each waited on until
# /readyz answers 200.
#
#   deploy/stack.sh start | stop | status
#
# Settings come from deploy/dev.env, overridden by the environment. Ports: STACK_PORT_BASE (8081) and
# the next seven; KAFKA_PORT (9092), KAFKA_NODES (1, or 3 for a cluster); EMBEDDED_PG_PORT (54329).
# Logs: .run/stack/<service>.log. What start started is kept in .run/stack/state.env, so stop stops
# exactly that.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
run="$root/.run/stack"
state="$run/state.env"
NAMES=(ingest-chat ingest-email ingest-phone ingest-social router history knowledge console)

load_state() { if [ -f "$state" ]; then set -a; . "$state"; set +a; fi; return 0; }

services() {
  local base=${STACK_PORT_BASE:-8081} i=0 n
  for n in "${NAMES[@]}"; do echo "$n:$((base + i))"; i=$((i + 1)); done
}

load_env() {
  while IFS='=' read -r k v; do
    [[ -z "$k" || "$k" == \#* ]] && continue
    [ -z "${!k:-}" ] && export "$k=$v"
  done <"$here/dev.env"
  return 0
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

kafka() { KAFKA_PORT="$STACK_KAFKA_PORT" KAFKA_NODES="$STACK_KAFKA_NODES" bash "$here/kafka/kafka.sh" "$@"; }

start() {
  mkdir -p "$run"
  [ -d "$root/node_modules" ] || (cd "$root" && npm ci --no-audit --no-fund)
  cd "$root"
  export STACK_PORT_BASE=${STACK_PORT_BASE:-8081}
  : >"$state.new"
  echo "STACK_PORT_BASE=$STACK_PORT_BASE" >>"$state.new"
  # A DATABASE_URL from the environment always wins; otherwise local-pg.ts picks or starts one.
  if [ -z "${DATABASE_URL:-}" ]; then
    local server; server=$(node --import tsx deploy/postgres/local-pg.ts url)
    export DATABASE_URL="${server%/*}/omni"
    echo "STACK_EMBEDDED_PG=1" >>"$state.new"
  fi
  # Likewise KAFKA_BROKERS: when set, that cluster is used and no broker is started.
  if [ -z "${KAFKA_BROKERS:-}" ]; then
    export STACK_KAFKA_PORT=${KAFKA_PORT:-9092} STACK_KAFKA_NODES=${KAFKA_NODES:-1}
    printf 'STACK_KAFKA_PORT=%s\nSTACK_KAFKA_NODES=%s\n' "$STACK_KAFKA_PORT" "$STACK_KAFKA_NODES" >>"$state.new"
    mv "$state.new" "$state"
    kafka start
    KAFKA_BROKERS=$(kafka brokers)
    export KAFKA_BROKERS
    if [ "$STACK_KAFKA_NODES" -ge 3 ]; then
      export KAFKA_REPLICATION_FACTOR=${KAFKA_REPLICATION_FACTOR:-3} KAFKA_MIN_INSYNC_REPLICAS=${KAFKA_MIN_INSYNC_REPLICAS:-2}
    fi
  else
    mv "$state.new" "$state"
  fi
  export TWILIO_PUBLIC_URL=${TWILIO_PUBLIC_URL:-http://127.0.0.1:$((STACK_PORT_BASE + 2))}
  # knowledge reads transcripts from history (the sixth port); the console (last port) forwards the
  # browser's /router and /history calls to those two
  export ROUTER_URL=${ROUTER_URL:-http://127.0.0.1:$((STACK_PORT_BASE + 4))} HISTORY_URL=${HISTORY_URL:-http://127.0.0.1:$((STACK_PORT_BASE + 5))}
  # the console also forwards /knowledge to the knowledge service (the seventh port)
  export KNOWLEDGE_URL=${KNOWLEDGE_URL:-http://127.0.0.1:$((STACK_PORT_BASE + 6))}
  load_env
  echo "stack: KAFKA_BROKERS=$KAFKA_BROKERS DATABASE_URL=$DATABASE_URL"
  node --import tsx deploy/migrate-all.ts
  local entry
  for entry in $(services); do
    local svc=${entry%%:*} port=${entry##*:}
    local pidfile="$run/$svc.pid"
    if alive "$pidfile"; then echo "stack: $svc already running (pid $(cat "$pidfile"))"; continue; fi
    # setsid: the service gets its own process group, so stop can end it and anything it spawned.
    PORT=$port setsid node --import tsx "services/$svc/src/main.ts" >>"$run/$svc.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
  done
  local deadline=$((SECONDS + ${STACK_START_TIMEOUT_S:-120})) failed=0
  for entry in $(services); do
    local svc=${entry%%:*} port=${entry##*:}
    until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
      if ! alive "$run/$svc.pid"; then echo "stack: $svc exited; last log lines:" >&2; tail -5 "$run/$svc.log" >&2; failed=1; break; fi
      if [ $SECONDS -ge $deadline ]; then echo "stack: $svc not ready in time; see $run/$svc.log" >&2; failed=1; break; fi
      sleep 0.5
    done
  done
  [ $failed -eq 0 ] || { stop; return 1; }
  status
}

stop() {
  load_state
  local entry pids=()
  # TERM all services first, then wait: each drains its consumers within SHUTDOWN_GRACE_MS
  for entry in $(services); do
    local pidfile="$run/${entry%%:*}.pid"
    if alive "$pidfile"; then
      local pid; pid=$(cat "$pidfile")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      pids+=("${entry%%:*}:$pid")
    fi
  done
  local deadline=$((SECONDS + 15)) p
  for p in "${pids[@]}"; do
    local svc=${p%%:*} pid=${p##*:}
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then kill -KILL -- "-$pid" 2>/dev/null || true; break; fi
      sleep 0.2
    done
    echo "stack: $svc stopped"
  done
  for entry in $(services); do rm -f "$run/${entry%%:*}.pid"; done
  if [ -n "${STACK_KAFKA_PORT:-}" ]; then kafka stop; fi
  if [ -n "${STACK_EMBEDDED_PG:-}" ]; then (cd "$root" && node --import tsx deploy/postgres/local-pg.ts stop); fi
  rm -f "$state"
}

status() {
  load_state
  printf '%-14s %-6s %-8s %s\n' SERVICE PORT STATE URL
  local entry
  for entry in $(services); do
    local svc=${entry%%:*} port=${entry##*:} state=down
    if alive "$run/$svc.pid"; then
      state=$(curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && echo ready || echo starting)
    fi
    printf '%-14s %-6s %-8s %s\n' "$svc" "$port" "$state" "http://127.0.0.1:$port"
  done
  if [ -n "${STACK_KAFKA_PORT:-}" ]; then kafka status || true; fi
  if [ -n "${STACK_EMBEDDED_PG:-}" ]; then (cd "$root" && node --import tsx deploy/postgres/local-pg.ts status); fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
