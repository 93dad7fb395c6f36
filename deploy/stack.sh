#!/usr/bin/env bash
# Starts or stops the whole system locally without Docker: the Kafka broker (deploy/kafka/kafka.sh),
# the local PostgreSQL, then all six services, each waited on until /readyz answers 200.
#
#   deploy/stack.sh start | stop | status
#
# Settings come from deploy/dev.env, overridden by the environment. Logs: .run/stack/<service>.log
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
run="$root/.run/stack"
SERVICES=(ingest-chat:8081 ingest-email:8082 ingest-phone:8083 ingest-social:8084 router:8085 history:8086)

load_env() {
  while IFS='=' read -r k v; do
    [[ -z "$k" || "$k" == \#* ]] && continue
    [ -z "${!k:-}" ] && export "$k=$v"
  done <"$here/dev.env"
  return 0
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  load_env
  mkdir -p "$run"
  [ -d "$root/node_modules" ] || (cd "$root" && npm ci --no-audit --no-fund)
  KAFKA_PORT="${KAFKA_BROKERS##*:}" bash "$here/kafka/kafka.sh" start
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "stack: starting local PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  fi
  cd "$root"
  node --import tsx deploy/migrate-all.ts
  for entry in "${SERVICES[@]}"; do
    local svc=${entry%%:*} port=${entry##*:}
    local pidfile="$run/$svc.pid"
    if alive "$pidfile"; then echo "stack: $svc already running (pid $(cat "$pidfile"))"; continue; fi
    # setsid: the service gets its own process group, so stop can end it and anything it spawned.
    PORT=$port setsid node --import tsx "services/$svc/src/main.ts" >>"$run/$svc.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
  done
  local deadline=$((SECONDS + ${STACK_START_TIMEOUT_S:-120})) failed=0
  for entry in "${SERVICES[@]}"; do
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
  for entry in "${SERVICES[@]}"; do
    local svc=${entry%%:*} pidfile="$run/${entry%%:*}.pid"
    if alive "$pidfile"; then
      local pid; pid=$(cat "$pidfile")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      local deadline=$((SECONDS + 15))
      while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then kill -KILL -- "-$pid" 2>/dev/null || true; break; fi
        sleep 0.2
      done
      echo "stack: $svc stopped"
    fi
    rm -f "$pidfile"
  done
  load_env
  KAFKA_PORT="${KAFKA_BROKERS##*:}" bash "$here/kafka/kafka.sh" stop
}

status() {
  load_env
  printf '%-14s %-6s %-8s %s\n' SERVICE PORT STATE URL
  for entry in "${SERVICES[@]}"; do
    local svc=${entry%%:*} port=${entry##*:} state=down
    if alive "$run/$svc.pid"; then
      state=$(curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && echo ready || echo starting)
    fi
    printf '%-14s %-6s %-8s %s\n' "$svc" "$port" "$state" "http://127.0.0.1:$port"
  done
  KAFKA_PORT="${KAFKA_BROKERS##*:}" bash "$here/kafka/kafka.sh" status || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
