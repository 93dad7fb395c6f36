#!/usr/bin/env bash
# Runs a real Apache Kafka broker without Docker: resolves org.apache.kafka:kafka_2.13 and its
# dependencies from Maven Central into a git-ignored cache (once), formats KRaft storage and starts a
# single-node broker+controller on 127.0.0.1.
#
#   deploy/kafka/kafka.sh fetch | start | stop | status
#
# Env: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_DATA_DIR (.run/kafka-$KAFKA_PORT),
#      KAFKA_HEAP (768m), KAFKA_START_TIMEOUT_S (90).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
port=${KAFKA_PORT:-9092}
cport=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
libs="$root/.cache/kafka/$version/libs"
data=${KAFKA_DATA_DIR:-$root/.run/kafka-$port}
pidfile="$data/broker.pid"
log="$data/broker.log"

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  echo "kafka: resolving kafka_2.13:$version from Maven Central into $libs" >&2
  rm -rf "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$libs/.complete"
}

alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  fetch
  if alive; then echo "kafka: already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return 0; fi
  if port_open "$port"; then echo "kafka: port $port is taken by another process; set KAFKA_PORT" >&2; return 1; fi
  mkdir -p "$data/logs"
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/logs
num.partitions=6
# single node: internal topics cannot have more replicas than brokers
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# no reason to wait for more members on a dev/test broker
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# largest record: one figure with topics, producer and consumers (libs/kafka/src/message-size.ts)
message.max.bytes=8388608
PROPS
  local cp="$libs/*"
  local java_opts=(-Xms256m "-Xmx${KAFKA_HEAP:-768m}" -XX:+UseG1GC -Djava.awt.headless=true "-Dlog4j2.configurationFile=$here/log4j2.properties")
  if [ ! -f "$data/logs/meta.properties" ]; then
    java "${java_opts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
      -c "$data/server.properties" >"$data/format.log" 2>&1 || { cat "$data/format.log" >&2; return 1; }
  fi
  nohup java "${java_opts[@]}" -cp "$cp" kafka.Kafka "$data/server.properties" >"$log" 2>&1 &
  echo $! >"$pidfile"
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT_S:-90}))
  until grep -q "Kafka Server started" "$log" 2>/dev/null && port_open "$port"; do
    if ! alive; then echo "kafka: broker exited during start-up; last lines of $log:" >&2; tail -20 "$log" >&2; return 1; fi
    if [ $SECONDS -ge $deadline ]; then echo "kafka: not ready after ${KAFKA_START_TIMEOUT_S:-90}s; see $log" >&2; stop; return 1; fi
    sleep 0.5
  done
  echo "kafka: $version running on 127.0.0.1:$port (pid $(cat "$pidfile"), data $data)"
}

stop() {
  if ! alive; then rm -f "$pidfile"; echo "kafka: not running"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -9 "$pid" 2>/dev/null || true; break; fi
    sleep 0.3
  done
  rm -f "$pidfile"
  echo "kafka: stopped"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if alive; then echo "kafka: running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; else echo "kafka: not running"; exit 1; fi ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
