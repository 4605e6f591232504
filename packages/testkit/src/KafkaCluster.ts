/**
 * A real Kafka cluster of several brokers on this machine, with the faults failover tests need:
 * find the leader of a partition and a group's coordinator; kill (SIGKILL) and restart a
 * broker; pause (SIGSTOP) and resume one; stop and restart the whole cluster.
 *
 * The brokers run from Apache Kafka's own jars through the launcher shipped in this package
 * (`launcher/launch.sh start --brokers N`: KRaft, every node a broker and a controller of the
 * quorum, topics replicated 3 times with `min.insync.replicas` 2 by default, 384 MB heaps). It
 * needs Java 17+ (and Maven the first time). The layer starts a fresh cluster on ports
 * `port`…`port + 2N - 1` (19092 by default, away from a development broker at 9092) and stops
 * it and deletes its data when its scope closes. One layer at a time holds a given port and
 * directory: a second one (another test file) waits for the first to be released.
 *
 * @example
 * ```ts
 * import { KafkaCluster } from "@sluice/testkit/KafkaCluster"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const cluster = yield* KafkaCluster
 *   const leader = yield* cluster.leaderOf("orders", 0)
 *   yield* cluster.kill(leader)
 *   // … the partition gets a new leader from the in-sync replicas …
 *   yield* cluster.restart(leader)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(KafkaCluster.layer({ brokers: 3 }))))
 * ```
 *
 * @since 0.3.0
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { groupCoordinator, partitionLeaders } from "../launcher/probe.mjs"

/**
 * Why a cluster operation failed.
 *
 * - `launcher`: `launch.sh` failed (no Java, a node did not come up, …); its output is in `cause`.
 * - `metadata`: no live node could say who leads a partition or coordinates a group in time.
 * - `node`: a node id outside 1…N, or a signal to a node that is not running.
 *
 * @since 0.3.0
 */
export class ClusterError extends Data.TaggedError("ClusterError")<{
  readonly reason: "launcher" | "metadata" | "node"
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * How to start the cluster.
 *
 * @since 0.3.0
 */
export interface Options {
  /** Number of brokers (each also a controller of the KRaft quorum). Default 3. */
  readonly brokers?: number | undefined
  /** Client port of node 1; node i answers at `port + 2(i - 1)`. Default `SLUICE_CLUSTER_PORT` or 19092. */
  readonly port?: number | undefined
  /** The cluster's state (pid files, logs, partitions). Default `$TMPDIR/sluice-kafka-cluster-<port>`. */
  readonly dir?: string | undefined
  /** JVM heap options of each node. Default `-Xmx384m -Xms128m`. */
  readonly heap?: string | undefined
  /** How long to wait for another holder of the same port and directory to release it. Default 10 minutes. */
  readonly waitForRelease?: Duration.DurationInput | undefined
}

/**
 * A node's state as the faults left it.
 *
 * @since 0.3.0
 */
export type NodeState = "running" | "paused" | "killed" | "stopped"

/**
 * The running cluster and its faults. Node ids are 1…N (Kafka's broker ids).
 *
 * @since 0.3.0
 */
export interface Cluster {
  /** Bootstrap addresses of every node, `host:port`. */
  readonly brokers: ReadonlyArray<string>
  /** Node ids, 1…N. */
  readonly nodes: ReadonlyArray<number>
  /** The address of node `node`. */
  readonly address: (node: number) => string
  /** What the faults left node `node` in. */
  readonly state: (node: number) => NodeState
  /** The leader of every partition of `topic`, once each has one (within 30 s). */
  readonly leaders: (topic: string) => Effect.Effect<ReadonlyMap<number, number>, ClusterError>
  /** The leader of `topic`'s `partition`, once it has one that is running (within 30 s). */
  readonly leaderOf: (topic: string, partition: number) => Effect.Effect<number, ClusterError>
  /** The node coordinating `groupId`, once one that is running does (within 30 s). */
  readonly coordinatorOf: (groupId: string) => Effect.Effect<number, ClusterError>
  /** SIGKILL: the node dies at once, without a controlled shutdown. */
  readonly kill: (node: number) => Effect.Effect<void, ClusterError>
  /** Starts a killed or stopped node again on its data; returns when it answers. */
  readonly restart: (node: number) => Effect.Effect<void, ClusterError>
  /** SIGSTOP: the node's JVM freezes (like a long GC pause or a stalled disk); its sockets stay open. */
  readonly pause: (node: number) => Effect.Effect<void, ClusterError>
  /** SIGCONT: a paused node runs again. */
  readonly resume: (node: number) => Effect.Effect<void, ClusterError>
  /** Stops every node (SIGTERM, SIGKILL after `grace`, 10 s by default), keeping the data. */
  readonly stopAll: (grace?: Duration.DurationInput) => Effect.Effect<void, ClusterError>
  /** Starts every node again on its data; returns when the cluster serves groups again. */
  readonly startAll: Effect.Effect<void, ClusterError>
}

/**
 * The cluster service.
 *
 * @since 0.3.0
 */
export class KafkaCluster extends Context.Tag("@sluice/testkit/KafkaCluster")<KafkaCluster, Cluster>() {
  /**
   * Starts a fresh cluster for the scope (see the module's documentation); stops it and deletes
   * its data when the scope closes.
   */
  static readonly layer = (options: Options = {}): Layer.Layer<KafkaCluster, ClusterError> =>
    Layer.scoped(KafkaCluster, make(options))
}

const host = "127.0.0.1"

// Shipped inside the package (`launcher/`), one level above both `src/` and `dist/`.
const launcherScript = (): string => fileURLToPath(new URL("../launcher/launch.sh", import.meta.url))

const sleep = (millis: number) => Effect.sleep(Duration.millis(millis))

/** Is `pid` a live process (not a zombie)? */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return !/^\d+ \(.*\) Z/.test(stat)
  } catch {
    // No procfs (macOS): kill -0 is all there is.
    return true
  }
}

/**
 * The scoped cluster. Exported for programs that want the service without a layer.
 *
 * @since 0.3.0
 */
export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const size = options.brokers ?? 3
    if (!Number.isInteger(size) || size < 1) {
      return yield* new ClusterError({ reason: "node", message: `brokers must be a positive integer, got ${size}` })
    }
    const port = options.port ?? Number(process.env.SLUICE_CLUSTER_PORT ?? 19092)
    const dir = options.dir ?? join(process.env.TMPDIR ?? "/tmp", `sluice-kafka-cluster-${port}`)
    const nodes = Array.from({ length: size }, (_, i) => i + 1)
    const address = (node: number) => `${host}:${port + 2 * (node - 1)}`
    const env = {
      ...process.env,
      SLUICE_KAFKA_BROKERS: String(size),
      KAFKA_PORT: String(port),
      SLUICE_KAFKA_DIR: dir,
      KAFKA_HEAP_OPTS: options.heap ?? process.env.SLUICE_CLUSTER_HEAP ?? "-Xmx384m -Xms128m"
    }
    const states = new Map<number, NodeState>(nodes.map((n) => [n, "running"]))

    const launch = (...args: Array<string>) =>
      Effect.tryPromise({
        try: (signal) =>
          new Promise<string>((resolve, reject) => {
            execFile("bash", [launcherScript(), ...args], { env, signal, timeout: 10 * 60_000 }, (error, out, err) => {
              const output = `${out}${err}`.trim()
              if (error)
                reject(new Error(`launch.sh ${args.join(" ")} failed (${error.message.split("\n")[0]}):\n${output}`))
              else resolve(output)
            })
          }),
        catch: (cause) => new ClusterError({ reason: "launcher", message: `launch.sh ${args.join(" ")} failed`, cause })
      }).pipe(Effect.withSpan("KafkaCluster.launch", { attributes: { args: args.join(" ") } }))

    const checkNode = (node: number) =>
      nodes.includes(node)
        ? Effect.void
        : Effect.fail(new ClusterError({ reason: "node", message: `no node ${node}: the nodes are 1…${size}` }))

    const pidOf = (node: number) =>
      Effect.flatMap(checkNode(node), () => {
        const file = join(dir, `node-${node}`, "kafka.pid")
        const pid = existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : Number.NaN
        return Number.isFinite(pid) && alive(pid)
          ? Effect.succeed(pid)
          : Effect.fail(new ClusterError({ reason: "node", message: `node ${node} is not running` }))
      })

    const signal = (node: number, name: NodeJS.Signals) =>
      Effect.flatMap(pidOf(node), (pid) =>
        Effect.try({
          try: () => process.kill(pid, name),
          catch: (cause) => new ClusterError({ reason: "node", message: `${name} to node ${node} failed`, cause })
        })
      )

    const waitGone = (pid: number, millis: number) =>
      Effect.gen(function* () {
        const deadline = Date.now() + millis
        while (alive(pid) && Date.now() < deadline) yield* sleep(50)
        return !alive(pid)
      })

    // Asks the running nodes in turn; the first answer that `accept`s wins, retried for 30 s.
    const ask = <A>(what: string, query: (address: string) => Promise<A>, accept: (a: A) => boolean) =>
      Effect.tryPromise({
        try: async () => {
          const errors: Array<unknown> = []
          for (const node of nodes) {
            if (states.get(node) !== "running") continue
            try {
              const answer = await query(address(node))
              if (accept(answer)) return answer
              errors.push(new Error(`node ${node}: not yet`))
            } catch (error) {
              errors.push(error)
            }
          }
          throw new AggregateError(errors, `no running node knows ${what} yet`)
        },
        catch: (cause) => new ClusterError({ reason: "metadata", message: `no running node knows ${what}`, cause })
      }).pipe(Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("30 seconds"))))

    const running = (node: number) => states.get(node) === "running"

    const leaders = (topic: string) =>
      ask(
        `the leaders of ${topic}`,
        (at) => partitionLeaders(at, topic),
        (partitions) => partitions.length > 0 && partitions.every((p) => running(p.leader))
      ).pipe(
        Effect.map(
          (partitions) => new Map(partitions.map((p) => [p.partition, p.leader])) as ReadonlyMap<number, number>
        ),
        Effect.withSpan("KafkaCluster.leaders", { attributes: { topic } })
      )

    const leaderOf = (topic: string, partition: number) =>
      ask(
        `the leader of ${topic}-${partition}`,
        (at) => partitionLeaders(at, topic),
        (partitions) => running(partitions.find((p) => p.partition === partition)?.leader ?? -1)
      ).pipe(
        Effect.map((partitions) => partitions.find((p) => p.partition === partition)!.leader),
        Effect.withSpan("KafkaCluster.leaderOf", { attributes: { topic, partition } })
      )

    const coordinatorOf = (groupId: string) =>
      ask(`the coordinator of ${groupId}`, (at) => groupCoordinator(at, groupId), running).pipe(
        Effect.withSpan("KafkaCluster.coordinatorOf", { attributes: { groupId } })
      )

    const kill = (node: number) =>
      Effect.gen(function* () {
        const pid = yield* pidOf(node)
        yield* signal(node, "SIGKILL")
        states.set(node, "killed")
        yield* waitGone(pid, 10_000)
      }).pipe(Effect.withSpan("KafkaCluster.kill", { attributes: { node } }))

    const restart = (node: number) =>
      Effect.gen(function* () {
        yield* checkNode(node)
        yield* launch("node-start", String(node))
        states.set(node, "running")
      }).pipe(Effect.withSpan("KafkaCluster.restart", { attributes: { node } }))

    const pause = (node: number) =>
      Effect.tap(signal(node, "SIGSTOP"), () => states.set(node, "paused")).pipe(
        Effect.withSpan("KafkaCluster.pause", { attributes: { node } })
      )

    const resume = (node: number) =>
      Effect.tap(signal(node, "SIGCONT"), () => states.set(node, "running")).pipe(
        Effect.withSpan("KafkaCluster.resume", { attributes: { node } })
      )

    const stopAll = (grace: Duration.DurationInput = "10 seconds") =>
      Effect.forEach(
        nodes,
        (node) =>
          Effect.gen(function* () {
            const pid = yield* Effect.option(pidOf(node))
            states.set(node, "stopped")
            if (pid._tag === "None") return
            // A paused node must run again to see the SIGTERM.
            for (const name of ["SIGTERM", "SIGCONT"] as const) {
              yield* Effect.try(() => process.kill(pid.value, name)).pipe(Effect.ignore)
            }
            if (!(yield* waitGone(pid.value, Duration.toMillis(grace)))) {
              yield* Effect.try(() => process.kill(pid.value, "SIGKILL")).pipe(Effect.ignore)
              yield* waitGone(pid.value, 10_000)
            }
          }),
        // Together: the last nodes stopped one by one would wait for a quorum that is gone.
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.withSpan("KafkaCluster.stopAll"))

    const startAll = Effect.gen(function* () {
      yield* launch("node-start", "all")
      for (const node of nodes) states.set(node, "running")
    }).pipe(Effect.withSpan("KafkaCluster.startAll"))

    // One holder at a time of a port and directory (another test file waits): a lease file
    // naming the holder's pid, taken over when that process is gone.
    const lease = `${dir}.lease`
    const waitForRelease = Duration.toMillis(options.waitForRelease ?? "10 minutes")
    yield* Effect.acquireRelease(
      Effect.gen(function* () {
        const deadline = Date.now() + waitForRelease
        let announced = false
        for (;;) {
          try {
            mkdirSync(lease, { recursive: false })
            writeFileSync(join(lease, "pid"), String(process.pid))
            return
          } catch {
            const holder = Number(
              existsSync(join(lease, "pid")) ? readFileSync(join(lease, "pid"), "utf8") : Number.NaN
            )
            if (Number.isFinite(holder) && !alive(holder)) {
              rmSync(lease, { recursive: true, force: true })
              continue
            }
            if (Date.now() > deadline) {
              return yield* new ClusterError({
                reason: "launcher",
                message: `the cluster at ${address(1)} (${dir}) is still held by pid ${holder} after ${waitForRelease} ms`
              })
            }
            if (!announced) {
              announced = true
              yield* Effect.logInfo(`KafkaCluster: waiting for pid ${holder} to release the cluster at ${address(1)}`)
            }
            yield* sleep(500)
          }
        }
      }),
      () => Effect.sync(() => rmSync(lease, { recursive: true, force: true }))
    )
    yield* Effect.acquireRelease(launch("start"), () =>
      Effect.gen(function* () {
        // Its data is deleted next: no need for a controlled shutdown, which can take 20 s
        // when the last nodes wait for a quorum that is gone.
        yield* Effect.ignore(stopAll(Duration.zero))
        yield* Effect.ignore(launch("stop"))
      })
    )
    return {
      brokers: nodes.map(address),
      nodes,
      address,
      state: (node: number) => states.get(node) ?? "stopped",
      leaders,
      leaderOf,
      coordinatorOf,
      kill,
      restart,
      pause,
      resume,
      stopAll,
      startAll
    } satisfies Cluster
  }).pipe(Effect.withSpan("KafkaCluster.make"))
