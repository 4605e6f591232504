/**
 * A real Kafka broker for the tests that need one, found in this order:
 *
 * 1. `KAFKA_BROKERS` (comma separated `host:port`): an existing cluster, e.g. the one `.ci/run`
 *    starts;
 * 2. a Docker engine that answers: testcontainers runs `apache/kafka:4.4.0` for the scope;
 * 3. the local launcher: a broker that already answers at `127.0.0.1:9092` (`KAFKA_PORT`), else
 *    the launcher shipped in this package, `launcher/launch.sh start` (Java 17+, and Maven the first
 *    time; `npx sluice-kafka start` runs it by hand). A broker started this
 *    way keeps running for the next test files and runs; `npx sluice-kafka stop` (`pnpm kafka:stop` here) stops it.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from "@effect/vitest"
 * import * as Admin from "@sluice/core/Admin"
 * import * as KafkaJsAdmin from "@sluice/kafkajs/KafkaJsAdmin"
 * import { brokerForTests } from "@sluice/testkit/KafkaBroker"
 * import * as Effect from "effect/Effect"
 *
 * // A vitest file: skipped with one line locally when no broker can be had, failed under CI=true.
 * const broker = await brokerForTests()
 *
 * describe.skipIf(broker === undefined)("on a real broker", () => {
 *   it.live("creates a topic", () =>
 *     Effect.gen(function* () {
 *       const admin = yield* Admin.Admin
 *       yield* admin.createTopics([{ name: "orders", partitions: 2 }], { ifNotExists: true })
 *       expect(yield* admin.listTopics).toContain("orders")
 *     }).pipe(Effect.provide(KafkaJsAdmin.layer({ brokers: [...broker!.brokers] })))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { ContainerRuntimeClient } from "testcontainers"
import { probe } from "../launcher/probe.mjs"

/**
 * The image testcontainers runs, and the version `docker-compose.yml` and the launcher's `pom.xml` pin.
 *
 * @since 0.1.0
 */
export const kafkaImage = "apache/kafka:4.4.0"

/**
 * Where the broker came from.
 *
 * @since 0.1.0
 */
export type BrokerSource = "env" | "testcontainers" | "launcher"

/**
 * How to get a broker, said by every `BrokerUnavailable`.
 *
 * @since 0.1.0
 */
export const howToGetABroker =
  "To run the broker tests: set KAFKA_BROKERS=host:port (an existing cluster), start a Docker engine " +
  `(testcontainers runs ${kafkaImage}), or install Java 17+ and Maven (the testkit then starts Kafka itself; \`npx sluice-kafka start\` by hand).`

/**
 * Why no broker could be had.
 *
 * - `unreachable`: `KAFKA_BROKERS` is set but no broker answers there.
 * - `container`: a Docker engine answers but the Kafka container did not start.
 * - `launcher`: the local launcher failed (no Java or Maven, the broker did not come up, …).
 *
 * @since 0.1.0
 */
export type BrokerUnavailableReason = "unreachable" | "container" | "launcher"

/**
 * No broker for the tests. The message is one line and ends with `howToGetABroker`; the
 * details (a client error, the launcher's output) are in `cause`.
 *
 * @since 0.1.0
 */
export class BrokerUnavailable extends Data.TaggedError("BrokerUnavailable")<{
  readonly reason: BrokerUnavailableReason
  readonly message: string
  readonly cause?: unknown
}> {}

const unavailable = (reason: BrokerUnavailableReason, what: string, cause: unknown): BrokerUnavailable =>
  new BrokerUnavailable({ reason, message: `${what}. ${howToGetABroker}`, cause })

/**
 * The broker the tests use.
 *
 * @since 0.1.0
 */
export interface BrokerInfo {
  /** Bootstrap addresses, `host:port`. */
  readonly brokers: ReadonlyArray<string>
  readonly source: BrokerSource
  /** The Apache Kafka version when known (not for `KAFKA_BROKERS` pointing elsewhere than the launcher). */
  readonly version: string | undefined
}

// One metadata round trip (no Kafka client needed): a broker that answers it can serve the tests.
const answers = (brokers: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: () => Promise.any(brokers.map((broker) => probe(broker, { timeoutMs: 5_000 }))),
    catch: (cause) => cause
  })

const answersWithin = (brokers: ReadonlyArray<string>, seconds: number) =>
  answers(brokers).pipe(Effect.retry(Schedule.spaced("500 millis").pipe(Schedule.upTo(`${seconds} seconds`))))

const launcherPort = (): number => Number(process.env.KAFKA_PORT ?? 9092)

// Mirrors launch.sh's default so that a test finds the version of the broker the launcher runs.
const launcherDir = (): string => {
  const port = launcherPort()
  return (
    process.env.SLUICE_KAFKA_DIR ??
    join(process.env.TMPDIR ?? "/tmp", port === 9092 ? "sluice-kafka" : `sluice-kafka-${port}`)
  )
}

// Shipped inside the package (`launcher/`), one level above both `src/` and `dist/`.
const launcherScript = (): string => fileURLToPath(new URL("../launcher/launch.sh", import.meta.url))

const launcherVersion = Effect.tryPromise(() => readFile(join(launcherDir(), "version"), "utf8")).pipe(
  Effect.map((text) => text.trim() || undefined),
  Effect.orElseSucceed(() => undefined)
)

const fromEnv = (value: string): Effect.Effect<BrokerInfo, BrokerUnavailable> =>
  Effect.gen(function* () {
    const brokers = value
      .split(",")
      .map((broker) => broker.trim())
      .filter((broker) => broker.length > 0)
    yield* answersWithin(brokers, 15).pipe(
      Effect.mapError((cause) =>
        unavailable("unreachable", `KAFKA_BROKERS=${value} is set but no broker answers`, cause)
      )
    )
    // The launcher's broker (as in .ci/run) knows its version; any other cluster does not say.
    const local = brokers.some(
      (broker) => broker === `127.0.0.1:${launcherPort()}` || broker === `localhost:${launcherPort()}`
    )
    const version = local ? yield* launcherVersion : undefined
    return { brokers, source: "env", version } satisfies BrokerInfo
  })

// Cheap, and never hangs: without a Docker engine testcontainers gives up in milliseconds.
const dockerRuntime: Effect.Effect<Option.Option<ContainerRuntimeClient>> = Effect.tryPromise(async () => {
  const { getContainerRuntimeClient } = await import("testcontainers")
  return await getContainerRuntimeClient()
}).pipe(Effect.timeout("5 seconds"), Effect.option)

const fromContainer = (runtime: ContainerRuntimeClient): Effect.Effect<BrokerInfo, BrokerUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const { GenericContainer, RandomPortGenerator, Wait } = yield* Effect.tryPromise(() => import("testcontainers"))
    // The advertised listener must name the host port, so the port is chosen before the start.
    const port = yield* Effect.tryPromise(() => new RandomPortGenerator().generatePort())
    const host = runtime.info.containerRuntime.host
    yield* Effect.acquireRelease(
      Effect.tryPromise(() =>
        new GenericContainer(kafkaImage)
          .withExposedPorts({ container: 9092, host: port })
          .withEnvironment({
            CLUSTER_ID: "4L6g3nShT-eMCtK--X86sw",
            KAFKA_NODE_ID: "1",
            KAFKA_PROCESS_ROLES: "broker,controller",
            KAFKA_LISTENERS: "PLAINTEXT://:9092,BROKER://:9093,CONTROLLER://:9094",
            KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port},BROKER://localhost:9093`,
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
            KAFKA_INTER_BROKER_LISTENER_NAME: "BROKER",
            KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
            KAFKA_CONTROLLER_QUORUM_VOTERS: "1@localhost:9094",
            KAFKA_NUM_PARTITIONS: "1",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE: "true",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1",
            KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: "1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: "1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: "1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
            KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS: "1000"
          })
          .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
          .withStartupTimeout(180_000)
          .start()
      ),
      (container) => Effect.tryPromise(() => container.stop()).pipe(Effect.ignore)
    )
    const brokers = [`${host}:${port}`]
    yield* answersWithin(brokers, 30)
    return { brokers, source: "testcontainers", version: kafkaImage.split(":")[1] } satisfies BrokerInfo
  }).pipe(
    Effect.mapError((cause) =>
      unavailable("container", `a Docker engine answers but ${kafkaImage} did not start`, cause)
    )
  )

const runLauncher = (script: string) =>
  Effect.tryPromise({
    try: (signal) =>
      new Promise<string>((resolve, reject) => {
        // The first start fetches ~55 MB of jars with Maven; the script has its own 90 s start timeout.
        execFile("bash", [script, "start"], { signal, timeout: 10 * 60_000 }, (error, stdout, stderr) => {
          const output = `${stdout}${stderr}`.trim()
          if (error) reject(new Error(`${script} start failed (${error.message.split("\n")[0]}):\n${output}`))
          else resolve(output)
        })
      }),
    catch: (cause) => cause
  })

const fromLauncher: Effect.Effect<BrokerInfo, BrokerUnavailable> = Effect.gen(function* () {
  const brokers = [`127.0.0.1:${launcherPort()}`]
  const running = yield* answers(brokers).pipe(
    Effect.as(true),
    Effect.orElseSucceed(() => false)
  )
  if (!running) {
    const script = launcherScript()
    if (!existsSync(script)) {
      return yield* unavailable("launcher", `no broker answers at ${brokers[0]} and ${script} is missing`, undefined)
    }
    yield* runLauncher(script).pipe(
      Effect.mapError((cause) =>
        unavailable("launcher", `no broker answers at ${brokers[0]} and \`pnpm kafka:start\` failed`, cause)
      )
    )
    console.info(
      `[sluice] started a local Kafka broker at ${brokers[0]} (the testkit's launcher/launch.sh); it keeps running, \`pnpm kafka:stop\` stops it`
    )
  }
  return { brokers, source: "launcher", version: yield* launcherVersion } satisfies BrokerInfo
})

const resolve: Effect.Effect<BrokerInfo, BrokerUnavailable, Scope.Scope> = Effect.suspend(() => {
  const fromEnvironment = process.env.KAFKA_BROKERS?.trim()
  if (fromEnvironment) return fromEnv(fromEnvironment)
  return Effect.flatMap(
    dockerRuntime,
    Option.match({ onNone: () => fromLauncher, onSome: (runtime) => fromContainer(runtime) })
  )
}).pipe(
  Effect.tap((broker) => Effect.annotateCurrentSpan({ source: broker.source, brokers: broker.brokers.join(",") })),
  Effect.withSpan("KafkaBroker.resolve")
)

/**
 * The Kafka broker of the tests. `layer` finds one (see the module's documentation); a
 * container it started is stopped when the layer's scope closes.
 *
 * @example
 * ```ts
 * import { KafkaBroker } from "@sluice/testkit/KafkaBroker"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const { brokers, source } = yield* KafkaBroker
 *   yield* Effect.log(`testing against ${brokers.join(",")} (${source})`)
 * })
 *
 * // Finds a broker (or starts one), runs the program, stops a container it started.
 * Effect.runPromise(program.pipe(Effect.provide(KafkaBroker.layer)))
 * ```
 *
 * @since 0.1.0
 */
export class KafkaBroker extends Context.Tag("@sluice/testkit/KafkaBroker")<KafkaBroker, BrokerInfo>() {
  static readonly layer: Layer.Layer<KafkaBroker, BrokerUnavailable> = Layer.scoped(KafkaBroker, resolve)
}

/**
 * The outcome of looking for a broker, without the CI policy of `brokerForTests`.
 *
 * @since 0.1.0
 */
export type BrokerResolution =
  | { readonly _tag: "Available"; readonly broker: BrokerInfo }
  | { readonly _tag: "Unavailable"; readonly error: BrokerUnavailable }

let resolution: Promise<BrokerResolution> | undefined

/**
 * Finds the broker once per process (a vitest worker) and remembers it, so every suite of a
 * file shares it. A container started here lives as long as the process (testcontainers'
 * reaper removes it when the process ends).
 *
 * @since 0.1.0
 */
export const resolveBrokers = (): Promise<BrokerResolution> => {
  resolution ??= Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      return yield* Scope.extend(resolve, scope)
    }).pipe(
      Effect.match({
        onFailure: (error): BrokerResolution => ({ _tag: "Unavailable", error }),
        onSuccess: (broker): BrokerResolution => ({ _tag: "Available", broker })
      })
    )
  )
  return resolution
}

const isCI = (): boolean => {
  const ci = process.env.CI?.trim().toLowerCase()
  return ci !== undefined && ci !== "" && ci !== "0" && ci !== "false"
}

let warned = false

/**
 * The broker for a test file, with the policy every broker test follows: under `CI=true` a
 * missing broker fails the run (this rejects with the `BrokerUnavailable`); elsewhere it
 * resolves to `undefined` after printing one line that says how to get a broker, and the file
 * skips its broker tests (`describe.skipIf(broker === undefined)`). Never a silent skip.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from "@effect/vitest"
 * import { brokerForTests } from "@sluice/testkit/KafkaBroker"
 *
 * const broker = await brokerForTests()
 *
 * describe.skipIf(broker === undefined)("smoke", () => {
 *   it("has a bootstrap address", () => {
 *     expect(broker!.brokers.length).toBeGreaterThan(0)
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 */
export const brokerForTests = async (): Promise<BrokerInfo | undefined> => {
  const result = await resolveBrokers()
  if (result._tag === "Available") return result.broker
  if (isCI()) throw result.error
  if (!warned) {
    warned = true
    console.warn(`[sluice] skipping the broker tests: ${result.error.message}`)
  }
  return undefined
}
