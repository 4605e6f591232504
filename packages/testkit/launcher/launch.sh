#!/usr/bin/env bash
# Apache Kafka (KRaft) run from Kafka's own jars, for development and tests on machines
# without Docker: one node (broker and controller in one JVM), or a cluster of N such nodes
# on loopback whose controllers form the quorum. Needs Java 17+, and Maven the first time (the
# jars named by pom.xml are fetched once into a cache outside the work tree).
#
#   launch.sh start [--brokers N]   fetch the jars (once), format fresh data dirs, start the
#                                   node(s) in the background and return when they serve
#                                   metadata and groups; harmless when they run
#   launch.sh stop [--brokers N]    stop the node(s) (SIGTERM, SIGKILL after 20 s) and delete
#                                   the data dir
#   launch.sh status [--brokers N]  say whether they run and answer (exit 0) or not (exit 1)
#   launch.sh node-start I|all      (a cluster) start node I (1..N), or every node not running,
#                                   again on its data (after a kill or a stop), and return when
#                                   it answers
#   launch.sh node-stop I|all       (a cluster) stop node I, or every node, keeping the data
#   launch.sh nodes                 (a cluster) one line per node: id, client port, pid or -
#
# A cluster (N > 1) is for failover tests: node I answers at 127.0.0.1:(KAFKA_PORT + 2(I-1)),
# its controller listens one port above; topics get replication factor min(3, N) and
# min.insync.replicas min(2, N) by default; each JVM is small (KAFKA_HEAP_OPTS, default
# -Xmx384m). Its state lives in $SLUICE_KAFKA_DIR/node-I.
#
# Environment:
#   SLUICE_KAFKA_BROKERS        number of nodes when --brokers is not given (default 1)
#   KAFKA_PORT                  client port on 127.0.0.1 of node 1 (default 9092 for one
#                               node, 19092 for a cluster, away from a development broker)
#   KAFKA_CONTROLLER_PORT       controller port of a single node (default KAFKA_PORT + 1)
#   KAFKA_HEAP_OPTS             JVM heap options (default -Xmx1g -Xms256m; -Xmx384m -Xms128m
#                               per node of a cluster)
#   SLUICE_CACHE                jar cache root (default ~/.cache/sluice)
#   SLUICE_KAFKA_DIR            data dir holding the pid file, the log and the partitions
#                               (default ${TMPDIR:-/tmp}/sluice-kafka, suffixed -<port> off 9092)
#   SLUICE_KAFKA_START_TIMEOUT  seconds to wait for the broker to answer (default 90)
set -euo pipefail

command=${1:-}
shift || true
brokers=${SLUICE_KAFKA_BROKERS:-1}
target=""
while (($# > 0)); do
  case $1 in
  --brokers)
    brokers=${2:-}
    shift 2 || true
    ;;
  --brokers=*)
    brokers=${1#--brokers=}
    shift
    ;;
  *)
    target=$1
    shift
    ;;
  esac
done
[[ $brokers =~ ^[1-9][0-9]*$ ]] || {
  echo "launch.sh: --brokers must be a positive number, got '$brokers'" >&2
  exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
host=127.0.0.1
if ((brokers > 1)); then port=${KAFKA_PORT:-19092}; else port=${KAFKA_PORT:-9092}; fi
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

# The broker's log: INFO to the console (kafka.log), the request log only when it warns.
write_log_config() {
  cat >"$1" <<'EOF'
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
  write_log_config "$dir/log4j2.properties"
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

# ---- a cluster of $brokers nodes (brokers > 1) ------------------------------------------------

node_dir() { echo "$dir/node-$1"; }
node_port() { echo $((port + 2 * ($1 - 1))); }
node_controller_port() { echo $((port + 2 * ($1 - 1) + 1)); }
replication() { echo $((brokers < 3 ? brokers : 3)); }
min_isr() { echo $((brokers < 2 ? brokers : 2)); }

node_pid() {
  local pid args
  pid=$(cat "$(node_dir "$1")/kafka.pid" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null || true)
  [[ $args == *kafka.Kafka* ]] && echo "$pid"
}

# A paused (SIGSTOPped) JVM is alive but answers nothing: `node-start` and `status` say so.
node_stopped_by_signal() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [[ $state == T* ]]
}

write_node_config() {
  local i=$1 d voters="" j
  d=$(node_dir "$i")
  for ((j = 1; j <= brokers; j++)); do voters+="${voters:+,}$j@$host:$(node_controller_port "$j")"; done
  mkdir -p "$d/data"
  cat >"$d/server.properties" <<EOF
# Written by the Sluice testkit launcher (launch.sh): node $i of a $brokers-node cluster for
# failover tests, broker and controller in one JVM, the controllers forming the quorum.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://$host:$(node_port "$i"),CONTROLLER://$host:$(node_controller_port "$i")
advertised.listeners=PLAINTEXT://$host:$(node_port "$i")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$d/data
num.partitions=1
default.replication.factor=$(replication)
min.insync.replicas=$(min_isr)
auto.create.topics.enable=true
unclean.leader.election.enable=false
# A few partitions for the group coordinators, replicated like the topics: a coordinator move
# loads one small partition.
offsets.topic.replication.factor=$(replication)
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$(replication)
transaction.state.log.min.isr=$(min_isr)
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=$(replication)
share.coordinator.state.topic.min.isr=$(min_isr)
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
# A dead or paused node is fenced by the controller after 4 s without a heartbeat (Kafka's
# default is 9 s): the tests wait less for the new leaders.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
# Lean: a test cluster on a small machine.
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=2
log.cleaner.enable=false
EOF
  write_log_config "$d/log4j2.properties"
}

# Starts node $1's JVM on its (formatted) data dir, in the background.
spawn_node() {
  local i=$1 d heap pid
  d=$(node_dir "$i")
  heap=${KAFKA_HEAP_OPTS:--Xmx384m -Xms128m}
  # C1 only, few compiler threads, small stacks: several JVMs share two cores.
  # shellcheck disable=SC2086 # heap holds several options
  $(command -v setsid || true) nohup java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:TieredStopAtLevel=1 \
    -XX:CICompilerCount=1 -Xss512k -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$d/log4j2.properties" -cp "$libs/*" \
    kafka.Kafka "$d/server.properties" </dev/null >>"$d/kafka.log" 2>&1 &
  pid=$!
  echo "$pid" >"$d/kafka.pid"
  say "node $i: started pid $pid at $host:$(node_port "$i")"
}

probe_port() { node "$here/probe.mjs" "$host:$1" 0 >/dev/null 2>&1; }

# wait_nodes <groups: 1 or ""> I...: waits for the nodes to answer (and, with groups, to
# serve groups), in parallel; prints the log tail of each that does not.
wait_nodes() {
  local groups=$1 i pid code failed=0 j
  shift
  local -a waits=() ids=()
  for i in "$@"; do
    pid=$(cat "$(node_dir "$i")/kafka.pid" 2>/dev/null || echo 0)
    node "$here/probe.mjs" "$host:$(node_port "$i")" "$((start_timeout * 1000))" "$pid" ${groups:+--groups} &
    waits+=($!)
    ids+=("$i")
  done
  for ((j = 0; j < ${#waits[@]}; j++)); do
    code=0
    wait "${waits[$j]}" || code=$?
    if ((code != 0)); then
      i=${ids[$j]}
      echo "---- last lines of $(node_dir "$i")/kafka.log ----" >&2
      tail -n 30 "$(node_dir "$i")/kafka.log" >&2 || true
      echo "kafka: node $i did not answer at $host:$(node_port "$i") (probe exit $code)" >&2
      failed=1
    fi
  done
  return $failed
}

cluster_addresses() {
  local i out=""
  for ((i = 1; i <= brokers; i++)); do out+="${out:+,}$host:$(node_port "$i")"; done
  echo "$out"
}

cluster_start() {
  local t0 i cluster_id running=0
  local -a all=()
  t0=$(now_ms)
  lock
  for ((i = 1; i <= brokers; i++)); do
    all+=("$i")
    if node_pid "$i" >/dev/null; then running=$((running + 1)); fi
  done
  if ((running == brokers)); then
    wait_nodes 1 "${all[@]}" || die "the cluster in $dir runs but does not answer"
    say "already running: $brokers nodes at $(cluster_addresses) (\`launch.sh stop --brokers $brokers\` stops them)"
    return 0
  fi
  ((running == 0)) || die "$running of $brokers nodes in $dir run: \`launch.sh node-start all --brokers $brokers\` starts the others, \`launch.sh stop --brokers $brokers\` stops them"
  for ((i = 1; i <= brokers; i++)); do
    if probe_port "$(node_port "$i")"; then
      die "a broker not started by this launcher answers at $host:$(node_port "$i"); choose another KAFKA_PORT"
    fi
  done
  require_java
  fetch_jars
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$brokers" >"$dir/brokers"
  cluster_id=$(new_cluster_id)
  for ((i = 1; i <= brokers; i++)); do
    write_node_config "$i"
    java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$libs/*" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$(node_dir "$i")/server.properties" >"$(node_dir "$i")/format.log" 2>&1 ||
      die "formatting node $i failed: $(cat "$(node_dir "$i")/format.log")"
  done
  for ((i = 1; i <= brokers; i++)); do spawn_node "$i"; done
  if ! wait_nodes 1 "${all[@]}"; then
    for ((i = 1; i <= brokers; i++)); do kill -KILL "$(cat "$(node_dir "$i")/kafka.pid")" 2>/dev/null || true; done
    die "the cluster did not come up; killed its nodes (logs above, data in $dir)"
  fi
  echo "$version" >"$dir/version"
  say "ready: $brokers nodes of Apache Kafka $version at $(cluster_addresses) in $(seconds_since "$t0")"
}

# node_ids I|all: the node ids a node-* command names.
node_ids() {
  local which=$1
  [[ -d $dir/node-1 ]] || die "no cluster in $dir (start it with \`launch.sh start --brokers $brokers\`)"
  if [[ $which == all ]]; then
    seq 1 "$brokers"
  elif [[ $which =~ ^[0-9]+$ ]] && ((which >= 1 && which <= brokers)); then
    echo "$which"
  else
    die "node-start and node-stop take a node id 1..$brokers or 'all', got '$which'"
  fi
}

node_start() {
  local t0 i pid ids groups=""
  local -a started=()
  t0=$(now_ms)
  [[ -n $target ]] || die "usage: launch.sh node-start I|all --brokers N"
  ids=$(node_ids "$target")
  lock
  for i in $ids; do
    if pid=$(node_pid "$i"); then
      if node_stopped_by_signal "$pid"; then die "node $i (pid $pid) is paused (SIGSTOP): send it SIGCONT"; fi
      continue
    fi
    spawn_node "$i"
    started+=("$i")
  done
  if ((${#started[@]} == 0)); then
    say "node(s) $(echo $ids) already running"
    return 0
  fi
  # Serving groups needs the quorum and the coordinators' partitions: waited for when the
  # whole cluster comes back; a single node only has to answer.
  [[ $target == all ]] && groups=1
  wait_nodes "$groups" "${started[@]}" || die "node(s) ${started[*]} did not come back"
  say "node(s) ${started[*]} answer again in $(seconds_since "$t0")"
}

stop_pid() {
  local pid=$1 waited=0
  kill -TERM "$pid" 2>/dev/null || true
  # A paused JVM sees SIGTERM only once it runs again.
  kill -CONT "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
    sleep 0.2
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid ignored SIGTERM for 20 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
}

stopped_count=0
# stop_nodes I...: in parallel, since the last nodes of a cluster stopped one by one would wait
# for a quorum that is gone.
stop_nodes() {
  local i pid
  local -a stopping=()
  for i in "$@"; do
    if pid=$(node_pid "$i"); then
      stop_pid "$pid" &
      stopping+=($!)
    fi
  done
  for pid in "${stopping[@]}"; do wait "$pid" || true; done
  stopped_count=${#stopping[@]}
}

node_stop() {
  local ids t0
  t0=$(now_ms)
  [[ -n $target ]] || die "usage: launch.sh node-stop I|all --brokers N"
  ids=$(node_ids "$target")
  lock
  # shellcheck disable=SC2086 # one id per word
  stop_nodes $ids
  say "stopped $stopped_count node(s) of $(echo $ids) in $(seconds_since "$t0"), data kept in $dir"
}

cluster_stop() {
  local t0
  t0=$(now_ms)
  lock
  # shellcheck disable=SC2046 # one id per word
  stop_nodes $(seq 1 "$brokers")
  say "stopped $stopped_count node(s) in $(seconds_since "$t0")"
  rm -rf "$dir"
}

cluster_status() {
  local i pid up=0
  for ((i = 1; i <= brokers; i++)); do
    if pid=$(node_pid "$i"); then
      if node_stopped_by_signal "$pid"; then
        say "node $i (pid $pid) at $host:$(node_port "$i"): paused"
      elif probe_port "$(node_port "$i")"; then
        say "node $i (pid $pid) at $host:$(node_port "$i"): running"
        up=$((up + 1))
      else
        say "node $i (pid $pid) at $host:$(node_port "$i"): alive, not answering"
      fi
    else
      say "node $i at $host:$(node_port "$i"): not running"
    fi
  done
  ((up == brokers))
}

nodes() {
  local i pid
  for ((i = 1; i <= brokers; i++)); do
    pid=$(node_pid "$i" || echo -)
    echo "$i $(node_port "$i") $pid"
  done
}

if ((brokers > 1)); then
  case $command in
  start) cluster_start ;;
  stop) cluster_stop ;;
  status) cluster_status ;;
  node-start) node_start ;;
  node-stop) node_stop ;;
  nodes) nodes ;;
  *)
    echo "usage: $0 start|stop|status|node-start I|all|node-stop I|all|nodes --brokers N" >&2
    exit 2
    ;;
  esac
else
  case $command in
  start) start ;;
  stop) stop ;;
  status) status ;;
  node-start | node-stop | nodes) die "$command is for a cluster: give --brokers N (N > 1)" ;;
  *)
    echo "usage: $0 start|stop|status [--brokers N]" >&2
    exit 2
    ;;
  esac
fi
