/**
 * The chaos soak (`pnpm test:chaos`, outside CI): a three-broker cluster (`KafkaCluster`, ports
 * 19292–19297 unless SLUICE_CLUSTER_PORT says otherwise), an idempotent producer writing
 * throughout, three consumer processes of one group (the G3 fixture, `fixtures/consumerProcess.ts`,
 * which appends `partition:offset` per record handled), and for SLUICE_CHAOS_MINUTES (20 by
 * default) random faults: a broker killed (SIGKILL) or paused (SIGSTOP) and brought back, a
 * consumer killed (SIGKILL) or stopped (SIGTERM) and started again. At the end every fault is
 * healed, the consumers catch up and stop, and what they handled is counted against an
 * independent ledger: the offsets the brokers acknowledged to the producer.
 *
 * Prints `produced=… handled=… lost=… duplicates=…` and exits 1 when anything was lost.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { KafkaCluster } from "@sluice/testkit/KafkaCluster"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaJsProducer from "../../src/KafkaJsProducer.js"

const here = dirname(fileURLToPath(import.meta.url))
const fixture = join(here, "..", "fixtures", "consumerProcess.ts")
const root = join(here, "..", "..", "..", "..")
const minutes = Number(process.env.SLUICE_CHAOS_MINUTES ?? 20)
const port = Number(process.env.SLUICE_CLUSTER_PORT ?? 19292)
const PARTITIONS = 6
const CONSUMERS = 3

const log = (line: string) => console.info(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`)
const random = (min: number, max: number) => min + Math.floor(Math.random() * (max - min))
const sleep = (millis: number) => Effect.sleep(`${millis} millis`)

const program = Effect.gen(function* () {
  const cluster = yield* KafkaCluster
  const brokers = cluster.brokers
  const topic = `chaos-${Date.now().toString(36)}`
  const groupId = `${topic}-group`
  const admin = new Kafka({ clientId: "sluice-chaos", brokers: [...brokers], logLevel: logLevel.NOTHING }).admin()
  yield* Effect.tryPromise(() => admin.connect())
  yield* Effect.tryPromise(() =>
    admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true })
  )
  const out = join(mkdtempSync(join(tmpdir(), "sluice-chaos-")), "handled.log")
  log(
    `cluster ${brokers.join(",")}, topic ${topic} (${PARTITIONS} partitions, RF 3), ${minutes} min of faults; handled → ${out}`
  )

  // The ledger: every offset a broker acknowledged.
  const producer = yield* KafkaJsProducer.make({ brokers, clientId: "sluice-chaos-producer", logLevel: "nothing" })
  const acked = new Set<string>()
  let sent = 0
  let failedSends = 0
  let producing = true
  const encoder = new TextEncoder()
  const writer = yield* Effect.fork(
    Effect.gen(function* () {
      while (producing) {
        const from = sent
        sent += PARTITIONS
        const records = Array.from({ length: PARTITIONS }, (_, i) => ({
          topic,
          partition: (from + i) % PARTITIONS,
          key: encoder.encode(`k${from + i}`),
          value: encoder.encode(String(from + i))
        }))
        const exit = yield* Effect.exit(producer.send(records))
        if (Exit.isSuccess(exit)) for (const m of exit.value) acked.add(`${m.partition}:${m.offset}`)
        else {
          failedSends++
          yield* sleep(500)
        }
        yield* sleep(20)
      }
    })
  )

  const consumers: Array<ChildProcess | undefined> = []
  const startConsumer = (slot: number) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture], {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers.join(","),
        SLUICE_TOPIC: topic,
        SLUICE_GROUP: groupId,
        SLUICE_OUT: out,
        SLUICE_HANDLER_MS: "1"
      },
      stdio: ["ignore", "ignore", "ignore"]
    })
    consumers[slot] = child
  }
  const exited = (child: ChildProcess) =>
    Effect.async<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      child.once("exit", () => resume(Effect.void))
    })
  for (let slot = 0; slot < CONSUMERS; slot++) startConsumer(slot)

  const faults = new Map<string, number>()
  const count = (fault: string) => faults.set(fault, (faults.get(fault) ?? 0) + 1)
  const deadline = Date.now() + minutes * 60_000
  while (Date.now() < deadline) {
    yield* sleep(random(8_000, 20_000))
    const node = cluster.nodes[random(0, cluster.nodes.length)]!
    const slot = random(0, CONSUMERS)
    switch (random(0, 4)) {
      case 0: {
        log(`kill broker ${node}`)
        count("broker kill")
        yield* cluster.kill(node)
        yield* sleep(random(3_000, 15_000))
        yield* cluster.restart(node)
        log(`broker ${node} back`)
        break
      }
      case 1: {
        const millis = random(2_000, 10_000)
        log(`pause broker ${node} for ${millis} ms`)
        count("broker pause")
        yield* cluster.pause(node)
        yield* sleep(millis)
        yield* cluster.resume(node)
        break
      }
      case 2: {
        log(`SIGKILL consumer ${slot}`)
        count("consumer kill")
        const child = consumers[slot]!
        child.kill("SIGKILL")
        yield* exited(child)
        yield* sleep(random(500, 5_000))
        startConsumer(slot)
        break
      }
      default: {
        log(`SIGTERM consumer ${slot}`)
        count("consumer stop")
        const child = consumers[slot]!
        child.kill("SIGTERM")
        yield* exited(child)
        startConsumer(slot)
      }
    }
  }

  log("faults over: the producer stops, the consumers catch up")
  producing = false
  yield* Fiber.await(writer)
  const handledLines = () =>
    existsSync(out)
      ? readFileSync(out, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : []
  const caughtUpBy = Date.now() + 180_000
  while (Date.now() < caughtUpBy) {
    const handled = new Set(handledLines())
    if ([...acked].every((k) => handled.has(k))) break
    yield* sleep(1_000)
  }
  for (const child of consumers) child?.kill("SIGTERM")
  for (const child of consumers) if (child !== undefined) yield* exited(child)

  // The topic read back: a record value at two offsets was written twice (idempotence broken),
  // an offset outside the ledger was written without an acknowledgement.
  const ends = yield* Effect.tryPromise(() => admin.fetchTopicOffsets(topic))
  const values = new Map<string, Array<string>>()
  const reader = new Kafka({
    clientId: "sluice-chaos-reader",
    brokers: [...brokers],
    logLevel: logLevel.NOTHING
  }).consumer({
    groupId: `${groupId}-reader`
  })
  yield* Effect.tryPromise(async () => {
    await reader.connect()
    await reader.subscribe({ topic, fromBeginning: true })
    const remaining = new Map(ends.map((e) => [e.partition, Number(e.high)]))
    await new Promise<void>((resolve) => {
      void reader.run({
        eachMessage: async ({ partition, message }) => {
          const value = message.value?.toString() ?? ""
          values.set(value, [...(values.get(value) ?? []), `${partition}:${message.offset}`])
          if (Number(message.offset) + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition)
          if ([...remaining.values()].every((end) => end === 0) || remaining.size === 0) resolve()
        }
      })
    })
    await reader.disconnect()
  })
  yield* Effect.tryPromise(() => admin.disconnect()).pipe(Effect.ignore)
  const doubled = [...values].filter(([, at]) => at.length > 1)
  const inTopic = [...values.values()].flat()
  const unacknowledged = inTopic.filter((k) => !acked.has(k))

  const lines = handledLines()
  const distinct = new Set(lines)
  const lost = [...acked].filter((k) => !distinct.has(k))
  const duplicates = lines.length - distinct.size
  log(
    `faults: ${[...faults].map(([f, n]) => `${f} ×${n}`).join(", ")}; failed sends=${failedSends} (records of unknown fate, not in the ledger)`
  )
  log(
    `read back: ${inTopic.length} records in the topic, ${doubled.length} values written twice${
      doubled.length > 0
        ? ` (${doubled
            .slice(0, 5)
            .map(([v, at]) => `${v} at ${at.join(" and ")}`)
            .join("; ")})`
        : ""
    }, ${unacknowledged.length} offsets without an acknowledgement${unacknowledged.length > 0 ? ` (${unacknowledged.slice(0, 5).join(" ")})` : ""}`
  )
  console.info(`produced=${acked.size} handled=${distinct.size} lost=${lost.length} duplicates=${duplicates}`)
  if (lost.length > 0) {
    log(`lost (first 20): ${lost.slice(0, 20).join(" ")}`)
    return yield* Effect.fail(new Error(`${lost.length} acknowledged records were never handled`))
  }
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(KafkaCluster.layer({ brokers: 3, port })))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
