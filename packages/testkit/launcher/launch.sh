#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft: broker and controller in one JVM) run from Kafka's own
# jars, for development and tests on machines without Docker. Needs Java 17+, and Maven the
# first time (the jars named by pom.xml are fetched once into a cache outside the work tree).
#
#   launch.sh start    fetch the jars (once), format a fresh data dir, start the broker in the
#                      background and return when it serves metadata; harmless when it runs
#   launch.sh stop     stop the broker (SIGTERM, SIGKILL after 20 s) and delete its data dir
#   launch.sh status   say whether it runs and answers (exit 0) or not (exit 1)
#
# Environment:
#   KAFKA_PORT                  client port on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT       controller port (default KAFKA_PORT + 1)
#   KAFKA_HEAP_OPTS             JVM heap options (default -Xmx1g -Xms256m)
#   SLUICE_CACHE                jar cache root (default ~/.cache/sluice)
#   SLUICE_KAFKA_DIR            data dir holding the pid file, the log and the partitions
#                               (default ${TMPDIR:-/tmp}/sluice-kafka, suffixed -<port> off 9092)
#   SLUICE_KAFKA_START_TIMEOUT  seconds to wait for the broker to answer (default 90)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
host=127.0.0.1
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
if [[ $port == 9092 ]]; then default_dir=${TMPDIR:-/tmp}/sluice-kafka; else default_dir=${TMPDIR:-/tmp}/sluice-kafka-$port; fi
dir=${SLUICE_KAFKA_DIR:-$default_dir}
dir=${dir%/}
pid_file=$dir/kafka.pid
log_file=$dir/kafka.log
start_timeout=${SLUICE_KAFKA_START_TIMEOUT:-90}

version=$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$pom" | head -n 1)
[[ -n $version ]] || {
  echo "launch.sh: no <kafka.version> in $pom" >&2
  exit 1
}
cache=${SLUICE_CACHE:-$HOME/.cache/sluice}/kafka-$version
libs=$cache/libs
# Holds the checksum of the pom the jars were copied for: a changed pom refetches.
marker=$cache/complete

say() { echo "kafka: $*"; }
die() {
  echo "kafka: $*" >&2
  exit 1
}

# Milliseconds since the epoch; EPOCHREALTIME needs bash 5, macOS ships bash 3.2.
now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local us=${EPOCHREALTIME/[.,]/}
    echo $((us / 1000))
  else
    echo $(($(date +%s) * 1000))
  fi
}
seconds_since() {
  local ms=$(($(now_ms) - $1))
  printf "%d.%01d s" $((ms / 1000)) $((ms % 1000 / 100))
}

# Serialises start and stop: several test files may ask for the broker at the same moment.
lock_dir=$dir.lock
unlock() { rm -rf "$lock_dir"; }
lock() {
  mkdir -p "$(dirname "$lock_dir")"
  local waited=0 holder
  until mkdir "$lock_dir" 2>/dev/null; do
    holder=$(cat "$lock_dir/pid" 2>/dev/null || true)
    if [[ -n $holder ]] && ! kill -0 "$holder" 2>/dev/null; then
      rm -rf "$lock_dir"
      continue
    fi
    # The holder may be fetching the jars over a slow network: wait as long as that may take.
    if ((waited >= 2 * (start_timeout + 600))); then die "timed out waiting for the lock $lock_dir (held by pid ${holder:-?})"; fi
    sleep 0.5
    waited=$((waited + 1))
  done
  echo $$ >"$lock_dir/pid"
  trap unlock EXIT
}

# The pid of our broker when it is alive; the command line check guards against a reused pid.
running_pid() {
  local pid args
  pid=$(cat "$pid_file" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null || true)
  [[ $args == *kafka.Kafka* ]] && echo "$pid"
}

# probe <wait seconds> [pid [--groups]]: does a broker serve metadata at host:port? (see probe.mjs)
probe() {
  local code=0
  node "$here/probe.mjs" "$host:$port" "$(($1 * 1000))" ${2+"${@:2}"} || code=$?
  return $code
}

# What the broker logged at start-up ("Kafka version: 4.4.0"), kept in $dir/version for the
# testkit (packages/testkit/src/KafkaBroker.ts reads it).
broker_version() {
  local v
  v=$(cat "$dir/version" 2>/dev/null || true)
  [[ -n $v ]] || v=$(grep -m 1 -o "Kafka version: [^ ]*" "$log_file" 2>/dev/null | sed 's/Kafka version: //' || true)
  echo "${v:-$version}"
}

print_log_tail() {
  if [[ -f $log_file ]]; then
    echo "---- last lines of $log_file ----" >&2
    tail -n 40 "$log_file" >&2
    echo "----" >&2
  fi
}

require_java() {
  command -v java >/dev/null || die "Java 17+ is needed to run the local broker (or set KAFKA_BROKERS, or use Docker: docker compose up -d)"
  local line major
  line=$(java -version 2>&1 | head -n 1)
  major=$(echo "$line" | sed -n 's/.*version "\([0-9]*\).*/\1/p')
  [[ -n $major && $major -ge 17 ]] || die "Java 17+ is needed, found: $line"
}

checksum() { cksum <"$pom" | cut -d ' ' -f 1; }

fetch_jars() {
  local sum tmp t0
  sum=$(checksum)
  if [[ -f $marker && $(cat "$marker") == "$sum" ]]; then return 0; fi
  command -v mvn >/dev/null ||
    die "Maven is needed once to fetch Apache Kafka $version's jars into $libs (or set KAFKA_BROKERS, or use Docker)"
  say "fetching Apache Kafka $version jars into $libs (once)"
  t0=$(now_ms)
  mkdir -p "$cache"
  tmp=$cache/libs.tmp.$$
  rm -rf "$tmp"
  if ! mvn -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >"$cache/mvn.log" 2>&1; then
    tail -n 30 "$cache/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not fetch the jars (is Maven Central reachable?); full output in $cache/mvn.log"
  fi
  rm -rf "$libs"
  mv "$tmp" "$libs"
  echo "$sum" >"$marker"
  say "fetched $(find "$libs" -name '*.jar' | wc -l | tr -d ' ') jars in $(seconds_since "$t0")"
}

# A cluster id is 16 random bytes in unpadded base64url; Kafka's own generator also avoids a
# leading "-" (it would read as a command line flag). Saves the JVM start of `random-uuid`.
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id == -* ]] || break
  done
  echo "$id"
}

write_config() {
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by the Sluice testkit launcher (launch.sh): one node, broker and controller, for tests.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$host:$controller_port
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$controller_port
advertised.listeners=PLAINTEXT://$host:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
EOF
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

start() {
  local t0 pid code=0 heap
  t0=$(now_ms)
  lock
  if pid=$(running_pid); then
    if probe 0; then
      say "already running (pid $pid) at $host:$port, Apache Kafka $(broker_version); \`pnpm kafka:stop\` stops it"
      return 0
    fi
    say "pid $pid is starting, waiting for it"
  else
    if probe 0; then
      say "a broker not started by this launcher already answers at $host:$port; using it as is"
      return 0
    fi
    require_java
    fetch_jars
    rm -rf "$dir"
    write_config
    # A short-lived JVM: C1 only and the serial collector start it ~0.5 s sooner.
    java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$libs/*" kafka.tools.StorageTool format --standalone \
      -t "$(new_cluster_id)" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
      die "formatting the data dir failed: $(cat "$dir/format.log")"
    heap=${KAFKA_HEAP_OPTS:--Xmx1g -Xms256m}
    # setsid: own session, so a Ctrl-C in the terminal (or test runner) that started it does not
    # reach the broker; all descriptors redirected so a caller reading our output is not held open.
    # shellcheck disable=SC2086 # heap holds several options
    $(command -v setsid || true) nohup java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$libs/*" \
      kafka.Kafka "$dir/server.properties" </dev/null >"$log_file" 2>&1 &
    pid=$!
    echo "$pid" >"$pid_file"
    say "started pid $pid, waiting for $host:$port (log: $log_file)"
  fi
  probe "$start_timeout" "$pid" --groups || code=$?
  case $code in
  0)
    broker_version >"$dir/version"
    say "ready: Apache Kafka $(broker_version) at $host:$port in $(seconds_since "$t0")"
    ;;
  2)
    print_log_tail
    rm -f "$pid_file"
    die "the broker exited during start-up (log above)"
    ;;
  *)
    print_log_tail
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pid_file"
    die "no answer at $host:$port after ${start_timeout} s; killed pid $pid (log above)"
    ;;
  esac
}

stop() {
  local pid t0 waited=0
  t0=$(now_ms)
  lock
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
      sleep 0.2
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid ignored SIGTERM for 20 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    say "stopped pid $pid in $(seconds_since "$t0")"
  else
    say "not running"
  fi
  rm -rf "$dir"
}

status() {
  local pid
  if pid=$(running_pid); then
    if probe 0; then
      say "running (pid $pid) at $host:$port, Apache Kafka $(broker_version), log $log_file"
      return 0
    fi
    say "pid $pid is alive but does not answer at $host:$port (starting, or stuck: see $log_file)"
    return 1
  fi
  if probe 0; then
    say "a broker not started by this launcher answers at $host:$port"
    return 0
  fi
  say "not running"
  return 1
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
*)
  echo "usage: $0 start|stop|status" >&2
  exit 2
  ;;
esac
