/**
 * G10 with real processes on a real broker (kafkajs): an exactly-once pipeline killed with
 * SIGKILL at random points while a second member joins and leaves, and a zombie (a process
 * paused with SIGSTOP past its session timeout, then resumed) fenced. Every input must have
 * exactly one output under `read_committed`: 0 lost, 0 duplicates.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { type ConsumerProcess, exited, poll, sleep, startProcess, waitFor } from "@sluice/testkit/ProcessHarness"
import { Kafka, logLevel, Partitioners } from "kafkajs"
import { onTestFinished } from "vitest"

const broker = await brokerForTests()
const here = dirname(fileURLToPath(import.meta.url))
const fixture = join(here, "fixtures", "transactionalProcess.ts")
const root = join(here, "..", "..", "..")

const PARTITIONS = 3

/**
 * An input topic of `PARTITIONS` partitions with `count` records (record i on partition i mod
 * 3), an output topic, a group; `committed` sums the group's offsets, `outputs` reads the output
 * topic under read_committed until `expected` values arrived (and a second more).
 */
const setup = async (prefix: string, count: number) => {
  const kafka = new Kafka({ clientId: "sluice-eos-process", brokers: [...broker!.brokers], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  onTestFinished(() => admin.disconnect())
  const topic = `${prefix}-${process.pid}-${Date.now().toString(36)}`
  const out = `${topic}.out`
  await admin.createTopics({
    topics: [
      { topic, numPartitions: PARTITIONS },
      { topic: out, numPartitions: PARTITIONS }
    ],
    waitForLeaders: true
  })
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  for (let from = 0; from < count; from += 2000) {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: Math.min(2000, count - from) }, (_, i) => ({
        partition: (from + i) % PARTITIONS,
        key: `k${(from + i) % 20}`,
        value: String(from + i)
      }))
    })
  }
  await producer.disconnect()
  const groupId = `${topic}-group`
  const committed = async () => {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] })
    return result!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
  }
  const outputs = async (expected: number): Promise<Array<string>> => {
    const consumer = kafka.consumer({ groupId: `${out}-reader`, readUncommitted: false })
    const values: Array<string> = []
    await consumer.connect()
    await consumer.subscribe({ topic: out, fromBeginning: true })
    await consumer.run({
      eachBatch: async ({ batch }) => void values.push(...batch.messages.map((m) => m.value!.toString()))
    })
    await poll(() => values.length >= expected, 30_000)
    await sleep(1000)
    await consumer.disconnect()
    return values
  }
  const started: Array<ConsumerProcess> = []
  onTestFinished(() => {
    for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
  })
  const start = (name: string, vars: Record<string, string> = {}) => {
    const p = startProcess(fixture, root, {
      KAFKA_BROKERS: broker!.brokers.join(","),
      SLUICE_TOPIC: topic,
      SLUICE_OUT_TOPIC: out,
      SLUICE_GROUP: groupId,
      SLUICE_NAME: name,
      ...vars
    })
    let stdout = ""
    p.child.stdout!.on("data", (chunk: string) => {
      stdout += chunk
    })
    started.push(p)
    return { ...p, stdout: () => stdout }
  }
  return { committed, outputs, start }
}

/** Outputs per input (`partition:offset`), and what is missing or doubled. */
const tally = (values: ReadonlyArray<string>, count: number) => {
  const seen = new Map<string, number>()
  for (const v of values) {
    const [p, o] = v.split(":")
    const key = `${p}:${o}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  let lost = 0
  for (let i = 0; i < count; i++) if (!seen.has(`${i % PARTITIONS}:${Math.floor(i / PARTITIONS)}`)) lost++
  const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0)
  return { outputs: values.length, lost, duplicates }
}

describe.skipIf(broker === undefined)("exactly-once consumer processes on a real broker (kafkajs)", () => {
  it("G10 SIGKILL at random points in 10 trials over 10,000 records, a second member joining and leaving: every input has exactly one output under read_committed", async () => {
    const records = 10_000
    const { committed, outputs, start } = await setup("g10", records)
    const t0 = Date.now()
    const trials = 10
    const kills: Array<number> = []
    // Members overlap: once the current member made progress, the next one starts (its join is a
    // rebalance) and the current one is killed at a random moment, in its processing, in its
    // transactions or in its revocation; the next takes over once the dead member's session expired.
    let current = start("m0")
    let extra: ReturnType<typeof start> | undefined
    for (let trial = 0; trial < trials; trial++) {
      // Progress since the last kill (bounded: under a heavy load a kill during a rebalance is a point too).
      const before = kills.at(-1) ?? 0
      await poll(async () => (await committed()) > before, 15_000)
      const next = start(`m${trial + 1}`)
      // A second member joins mid-stream and later leaves gracefully.
      if (trial === 3) extra = start("extra")
      if (trial === 6 && extra !== undefined) {
        await waitFor(extra.assigned, "the second member's assignment")
        extra.child.kill("SIGTERM")
        expect(await exited(extra.child)).toBe(0)
      }
      await sleep(Math.floor(Math.random() * 500))
      current.child.kill("SIGKILL")
      await exited(current.child)
      kills.push(await committed())
      current = next
    }
    // A last member runs until everything is committed, then stops gracefully.
    const last = current
    await waitFor(async () => (await committed()) === records, "every input to be committed", 90_000)
    last.child.kill("SIGTERM")
    expect(await exited(last.child)).toBe(0)
    const result = tally(await outputs(records), records)
    console.info(
      `[sluice] G10 (kafkajs): ${trials} SIGKILL trials over ${records} records, a second member joining and leaving: ` +
        `${JSON.stringify(result)}; committed at each kill: ${kills.join(", ")}; ${Date.now() - t0} ms`
    )
    expect(result).toEqual({ outputs: records, lost: 0, duplicates: 0 })
  }, 200_000)

  it("G10 a zombie is fenced: a process paused (SIGSTOP) past its session timeout while the group moves on, then resumed, makes nothing visible", async () => {
    const records = 2000
    const { committed, outputs, start } = await setup("g10-zombie", records)
    const zombie = start("zombie", { SLUICE_HANDLER_MS: "3" })
    await waitFor(async () => (await committed()) > 0, "the first member to commit")
    zombie.child.kill("SIGSTOP")
    const successor = start("successor", { SLUICE_HANDLER_MS: "3" })
    // The group expels the paused member after its session timeout and gives its partitions to the
    // successor, whose producers fence the zombie's.
    await waitFor(successor.assigned, "the successor's assignment")
    await waitFor(async () => (await committed()) >= records / 2, "the successor to make progress")
    zombie.child.kill("SIGCONT")
    await waitFor(async () => (await committed()) === records, "every input to be committed", 60_000)
    for (const p of [successor, zombie]) p.child.kill("SIGTERM")
    await Promise.all([exited(successor.child), exited(zombie.child)])
    const values = await outputs(records)
    const result = tally(values, records)
    const fencedLog = zombie.stdout().includes("treated as lost")
    console.info(`[sluice] G10 zombie (kafkajs): ${JSON.stringify(result)}; the zombie's commit refused: ${fencedLog}`)
    expect(result).toEqual({ outputs: records, lost: 0, duplicates: 0 })
    expect(fencedLog).toBe(true)
  }, 120_000)
})
