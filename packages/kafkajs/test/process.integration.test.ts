/**
 * Guarantees that need a real process: a consumer killed with SIGKILL at random points
 * (G3: nothing is lost, duplicates are bounded and counted) and a consumer stopped with
 * SIGTERM (G8: it drains, commits what it finished and exits 0 within its deadline).
 */

import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { Kafka, logLevel, Partitioners } from "kafkajs"
import { onTestFinished } from "vitest"

const broker = await brokerForTests()
const here = dirname(fileURLToPath(import.meta.url))
const fixture = join(here, "fixtures", "consumerProcess.ts")
const root = join(here, "..", "..", "..")

const RECORDS = 10_000
const PARTITIONS = 3

interface Consumer {
  readonly child: ChildProcess
  /** Whether the consumer reported its first assignment. */
  assigned: () => boolean
}

const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode)
    child.once("exit", (code) => resolve(code))
  })

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/**
 * Polls `condition` until it holds or `millis` passed, and says whether it held. The waits
 * that only give a consumer time to commit use it directly and leave the verdict to the
 * assertions after them.
 */
const poll = async (condition: () => boolean | Promise<boolean>, millis: number): Promise<boolean> => {
  const deadline = Date.now() + millis
  while (!(await condition())) {
    if (Date.now() > deadline) return false
    await sleep(50)
  }
  return true
}

/** Polls `condition` until it holds; fails the test after `millis`. */
const waitFor = async (condition: () => boolean | Promise<boolean>, what: string, millis = 90_000) => {
  if (!(await poll(condition, millis))) throw new Error(`timed out waiting for ${what}`)
}

/**
 * A topic of `PARTITIONS` partitions with `count` records (record i on partition i mod 3,
 * valued i), a group, and a file the consumer processes append `partition:offset` to, one
 * line per record handled. The admin client disconnects when the test ends.
 */
const setup = async (prefix: string, count: number) => {
  const kafka = new Kafka({ clientId: "sluice-process-test", brokers: [...broker!.brokers], logLevel: logLevel.WARN })
  const admin = kafka.admin()
  await admin.connect()
  onTestFinished(() => admin.disconnect())
  const topic = `${prefix}-${process.pid}-${Date.now().toString(36)}`
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true })
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
  const out = join(mkdtempSync(join(tmpdir(), `sluice-${prefix}-`)), "handled.log")
  /** The group's committed offsets, with their metadata. */
  const offsets = async () => {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] })
    return result!.partitions
  }
  const committed = async () => new Map((await offsets()).map((p) => [p.partition, Number(p.offset)]))
  const handled = (): Array<string> =>
    existsSync(out)
      ? readFileSync(out, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : []
  /** Starts a consumer process of the group (see `fixtures/consumerProcess.ts` for `env`). */
  const start = (env: Record<string, string>): Consumer => {
    // node itself with tsx as a loader (not the tsx CLI, which is a parent process of its own:
    // SIGKILL would kill the wrapper and leave the consumer running).
    const child = spawn(process.execPath, ["--import", "tsx", fixture], {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: broker!.brokers.join(","),
        SLUICE_TOPIC: topic,
        SLUICE_GROUP: groupId,
        SLUICE_OUT: out,
        ...env
      },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let assigned = false
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (chunk: string) => {
      if (chunk.includes("sluice-event Assigned")) assigned = true
    })
    return { child, assigned: () => assigned }
  }
  return { offsets, committed, handled, start }
}

describe.skipIf(broker === undefined)("consumer processes on a real broker (kafkajs)", () => {
  for (const mode of ["partition", "keyed", "unordered"]) {
    it(`G3 SIGKILL at random points in 10 trials over 10,000 records: after a restart every record was handled (${mode} mode)`, async () => {
      const { committed, handled, start } = await setup("g3", RECORDS)
      const env = {
        // 16 records in flight per partition in the concurrent modes: slower handlers keep the
        // pace (and so the kill points) comparable across modes.
        SLUICE_HANDLER_MS: mode === "partition" ? "1" : "16",
        SLUICE_MODE: mode
      }
      const trials = 10
      const kills: Array<number> = []
      for (let trial = 0; trial < trials; trial++) {
        const before = handled().length
        const consumer = start(env)
        // Let it make some progress, then kill it at a random moment.
        await waitFor(
          () => handled().length > before || new Set(handled()).size === RECORDS,
          `trial ${trial} to make progress`
        )
        await sleep(Math.floor(Math.random() * 500))
        consumer.child.kill("SIGKILL")
        await exited(consumer.child)
        kills.push(handled().length)
      }
      // A final consumer runs until every record was handled, then stops gracefully.
      const last = start(env)
      await waitFor(last.assigned, "the last consumer's assignment")
      await waitFor(() => new Set(handled()).size === RECORDS, "every record to be handled", 180_000)
      const total = async () => [...(await committed()).values()].reduce((a, b) => a + Math.max(0, b), 0)
      await poll(async () => (await total()) >= RECORDS, 20_000)
      last.child.kill("SIGTERM")
      expect(await exited(last.child)).toBe(0)

      const lines = handled()
      const distinct = new Set(lines)
      for (let i = 0; i < RECORDS; i++) {
        const partition = i % PARTITIONS
        expect(distinct.has(`${partition}:${Math.floor(i / PARTITIONS)}`)).toBe(true)
      }
      const duplicates = lines.length - distinct.size
      console.info(
        `[sluice] G3 (${mode} mode): ${trials} SIGKILL trials over ${RECORDS} records: ${duplicates} duplicates ` +
          `(${((duplicates / RECORDS) * 100).toFixed(2)} %), handled counts at each kill: ${kills.join(", ")}`
      )
      expect([...(await committed()).values()].reduce((a, b) => a + b, 0)).toBe(RECORDS)
    }, 400_000)
  }

  it("G3 G7 a restart after SIGKILL redoes only the unfinished records: the slow frontier, not the work finished above it (unordered mode)", async () => {
    const { committed, handled, offsets, start } = await setup("restart", 3000)
    const env = { SLUICE_HANDLER_MS: "1", SLUICE_MODE: "unordered" }
    // Partition 0's offset 5 never finishes: the frontier stays at 5 while the rest finishes.
    const first = start({ ...env, SLUICE_STUCK: "0:5" })
    await waitFor(() => handled().length === 3000 - 1, "everything but the stuck record")
    // Wait until a commit carried the finished offsets above the stuck frontier.
    let metadata = ""
    await poll(async () => {
      const p0 = (await offsets()).find((p) => p.partition === 0)
      if (p0?.offset === "5" && p0.metadata !== null) metadata = p0.metadata
      return metadata.startsWith("sluice:")
    }, 10_000)
    expect(metadata).toMatch(/^sluice:1:/)
    // Let the other partitions' last commits land, then kill it.
    await poll(async () => {
      const now = await committed()
      return now.get(1) === 1000 && now.get(2) === 1000
    }, 10_000)
    first.child.kill("SIGKILL")
    await exited(first.child)
    const before = handled().length
    const second = start(env)
    await waitFor(second.assigned, "the second consumer's assignment")
    await waitFor(() => handled().length > before, "the second consumer to handle the stuck record")
    await poll(async () => (await committed()).get(0) === 1000, 10_000)
    second.child.kill("SIGTERM")
    expect(await exited(second.child)).toBe(0)
    const redone = handled().slice(before)
    // Only the record that never finished was handled again: 999 finished records of partition
    // 0 above it were skipped thanks to the commit metadata.
    expect(redone).toEqual(["0:5"])
    expect((await committed()).get(0)).toBe(1000)
    console.info(`[sluice] restart: redid ${redone.length} record(s); metadata was ${metadata.length} bytes`)
  }, 120_000)

  it("G8 SIGTERM mid-stream: the process exits 0 within its deadline and everything it finished is committed", async () => {
    const { committed, handled, start } = await setup("g8", 3000)
    const { child } = start({ SLUICE_HANDLER_MS: "5" })
    await waitFor(() => handled().length >= 300, "progress")
    const signalled = Date.now()
    child.kill("SIGTERM")
    const code = await exited(child)
    const took = Date.now() - signalled
    expect(code).toBe(0)
    expect(took).toBeLessThan(10_000 + 5_000) // shutdownTimeout + process teardown
    const lines = handled()
    expect(new Set(lines).size).toBe(lines.length)
    const perPartition = new Map<number, number>()
    for (const line of lines) {
      const partition = Number(line.split(":")[0])
      perPartition.set(partition, (perPartition.get(partition) ?? 0) + 1)
    }
    const offsets = await committed()
    for (let p = 0; p < PARTITIONS; p++) expect(offsets.get(p) ?? -1).toBe(perPartition.get(p) ?? -1)
    console.info(`[sluice] G8: SIGTERM after ${lines.length} records, exit 0 in ${took} ms`)
  }, 120_000)
})
