#!/usr/bin/env bash
# Runs real Apache Kafka without Docker: resolves org.apache.kafka:kafka_2.13 and its dependencies
# from Maven Central into a git-ignored cache (once), formats KRaft storage and starts one broker, or a
# cluster of KAFKA_NODES brokers (each broker+controller, one quorum), on 127.0.0.1.
#
#   deploy/kafka/kafka.sh fetch | start | stop | status       the whole cluster
#   deploy/kafka/kafka.sh start-node N | stop-node N           one node (1..KAFKA_NODES), e.g. for fault tests
#   deploy/kafka/kafka.sh brokers                              prints the bootstrap list (host:port,…)
#
# Env: KAFKA_NODES (1), KAFKA_PORT (9092; node i listens on KAFKA_PORT+i-1), KAFKA_CONTROLLER_PORT
#      (KAFKA_PORT+KAFKA_NODES; node i on +i-1), KAFKA_DATA_DIR (.run/kafka-$KAFKA_PORT; node i in
#      node-i/ when KAFKA_NODES>1), KAFKA_HEAP (768m, or 512m per node in a cluster),
#      KAFKA_START_TIMEOUT_S (90).
# With KAFKA_NODES=3 the cluster's defaults are production's: replication factor 3 and
# min.insync.replicas 2 (a topic stays writable with acks=all while one broker is down).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
nodes=${KAFKA_NODES:-1}
port=${KAFKA_PORT:-9092}
cport=${KAFKA_CONTROLLER_PORT:-$((port + nodes))}
libs="$root/.cache/kafka/$version/libs"
data=${KAFKA_DATA_DIR:-$root/.run/kafka-$port}
if [ "$nodes" -gt 1 ]; then default_heap=512m; rf=3; isr=2; else default_heap=768m; rf=1; isr=1; fi
[ "$nodes" -ge 3 ] || { rf=1; isr=1; }

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  echo "kafka: resolving kafka_2.13:$version from Maven Central into $libs" >&2
  rm -rf "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$libs/.complete"
}

node_dir() { if [ "$nodes" -gt 1 ]; then echo "$data/node-$1"; else echo "$data"; fi; }
node_port() { echo $((port + $1 - 1)); }
node_cport() { echo $((cport + $1 - 1)); }
pidfile() { echo "$(node_dir "$1")/broker.pid"; }
alive() { local p; p=$(pidfile "$1"); [ -f "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

voters() {
  local v="" i
  for i in $(seq 1 "$nodes"); do v+="${v:+,}$i@127.0.0.1:$(node_cport "$i")"; done
  echo "$v"
}

brokers() {
  local b="" i
  for i in $(seq 1 "$nodes"); do b+="${b:+,}127.0.0.1:$(node_port "$i")"; done
  echo "$b"
}

write_properties() {
  local i=$1 dir; dir=$(node_dir "$1")
  local p; p=$(node_port "$i")
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://127.0.0.1:$p,CONTROLLER://127.0.0.1:$(node_cport "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$p
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/logs
num.partitions=6
# Replication: 1 on a single node (internal topics cannot have more replicas than brokers);
# production's 3 and 2 on a cluster of three or more.
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# a stopped broker's partitions move to the others quickly; a returning one takes its leaderships back
unclean.leader.election.enable=false
auto.leader.rebalance.enable=true
leader.imbalance.check.interval.seconds=10
# no reason to wait for more members on a dev/test broker
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# largest record: one figure with topics, producer and consumers (libs/kafka/src/message-size.ts)
message.max.bytes=8388608
# The active controller appends a no-op record to the metadata log when nothing else was written
# for this long (default 500 ms), and every voter and broker then fetches and applies it: on an idle
# single node that was the largest share of the broker's CPU (raft-io thread 9 of ~30 ms per second;
# 2 at 5 s). Liveness and fencing run on broker heartbeats, not on these records.
metadata.max.idle.interval.ms=5000
PROPS
}

start_node() {
  local i=$1 dir p; dir=$(node_dir "$1"); p=$(node_port "$1")
  local log="$dir/broker.log"
  if alive "$i"; then echo "kafka: node $i already running (pid $(cat "$(pidfile "$i")")) on 127.0.0.1:$p"; return 0; fi
  if port_open "$p"; then echo "kafka: port $p is taken by another process; set KAFKA_PORT" >&2; return 1; fi
  mkdir -p "$dir/logs"
  write_properties "$i"
  local cp="$libs/*"
  local java_opts=(-Xms256m "-Xmx${KAFKA_HEAP:-$default_heap}" -XX:+UseG1GC -Djava.awt.headless=true "-Dlog4j2.configurationFile=$here/log4j2.properties")
  if [ ! -f "$dir/logs/meta.properties" ]; then
    java "${java_opts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/server.properties" >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; return 1; }
  fi
  nohup java "${java_opts[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" >"$log" 2>&1 &
  echo $! >"$(pidfile "$i")"
}

wait_node() {
  local i=$1 dir p; dir=$(node_dir "$1"); p=$(node_port "$1")
  local log="$dir/broker.log" deadline=$((SECONDS + ${KAFKA_START_TIMEOUT_S:-90}))
  until grep -q "Kafka Server started" "$log" 2>/dev/null && port_open "$p"; do
    if ! alive "$i"; then echo "kafka: node $i exited during start-up; last lines of $log:" >&2; tail -20 "$log" >&2; return 1; fi
    if [ $SECONDS -ge $deadline ]; then echo "kafka: node $i not ready after ${KAFKA_START_TIMEOUT_S:-90}s; see $log" >&2; return 1; fi
    sleep 0.5
  done
  echo "kafka: $version node $i running on 127.0.0.1:$p (pid $(cat "$(pidfile "$i")"), data $dir)"
}

# One cluster id for all nodes, kept with the data so a node restarted alone formats nothing new.
load_cluster_id() {
  mkdir -p "$data"
  if [ ! -f "$data/cluster.id" ]; then
    java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 >"$data/cluster.id"
  fi
  cluster_id=$(cat "$data/cluster.id")
}

start() {
  fetch
  load_cluster_id
  local i
  for i in $(seq 1 "$nodes"); do start_node "$i" || { stop; return 1; }; done
  # a KRaft quorum of n needs a majority up before any node reports started: wait after starting all
  for i in $(seq 1 "$nodes"); do wait_node "$i" || { stop; return 1; }; done
  [ "$nodes" -eq 1 ] || echo "kafka: cluster of $nodes on $(brokers) (replication factor $rf, min.insync.replicas $isr)"
}

stop_node() {
  local i=$1 p; p=$(pidfile "$1")
  if ! alive "$i"; then rm -f "$p"; echo "kafka: node $i not running"; return 0; fi
  local pid; pid=$(cat "$p")
  kill "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -9 "$pid" 2>/dev/null || true; break; fi
    sleep 0.3
  done
  rm -f "$p"
  if [ "$nodes" -gt 1 ]; then echo "kafka: node $i stopped"; else echo "kafka: stopped"; fi
}

stop() {
  local i
  # stop all at once: stopping one by one makes the rest move leaderships around for nothing
  for i in $(seq "$nodes" -1 1); do stop_node "$i" & done
  wait
}

status() {
  local i down=0
  for i in $(seq 1 "$nodes"); do
    if alive "$i"; then echo "kafka: node $i running (pid $(cat "$(pidfile "$i")")) on 127.0.0.1:$(node_port "$i")"
    else echo "kafka: node $i not running"; down=1; fi
  done
  return $down
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  brokers) brokers ;;
  start-node) fetch; load_cluster_id; start_node "${2:?node number}" && wait_node "$2" ;;
  stop-node) stop_node "${2:?node number}" ;;
  *) echo "usage: $0 fetch|start|stop|status|brokers|start-node N|stop-node N" >&2; exit 2 ;;
esac
