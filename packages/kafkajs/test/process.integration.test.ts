/**
 * Guarantees that need a real process, on kafkajs: the testkit's process tests (G3: SIGKILL at
 * random points, nothing lost; G8: SIGTERM drains, commits and exits 0 within its deadline),
 * and a restart after SIGKILL that redoes only the unfinished records thanks to the commit
 * metadata (G3 G7).
 */

import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import * as OffsetMetadata from "@sluice/core/OffsetMetadata"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { exited, poll, startProcess, suite, waitFor } from "@sluice/testkit/ProcessHarness"
import * as TestCluster from "@sluice/testkit/TestCluster"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Kafka, logLevel } from "kafkajs"
import { afterAll, onTestFinished } from "vitest"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

const broker = await brokerForTests()
const here = dirname(fileURLToPath(import.meta.url))
const fixture = join(here, "fixtures", "consumerProcess.ts")
const root = join(here, "..", "..", "..")
const cluster = ManagedRuntime.make(KafkaJsTestCluster.layer(broker?.brokers ?? []))
afterAll(() => cluster.dispose())

const PARTITIONS = 3

/**
 * A topic of `PARTITIONS` partitions with `count` records (record i on partition i mod 3,
 * valued i), a group, and a file the consumer processes append `partition:offset` to, one
 * line per record handled. The admin client disconnects when the test ends.
 */
const setup = async (prefix: string, count: number) => {
  const admin = new Kafka({
    clientId: "sluice-process-test",
    brokers: [...broker!.brokers],
    logLevel: logLevel.WARN
  }).admin()
  await admin.connect()
  onTestFinished(() => admin.disconnect())
  const topic = `${prefix}-${process.pid}-${Date.now().toString(36)}`
  await cluster.runPromise(TestCluster.fill(topic, PARTITIONS, count))
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
  const start = (env: Record<string, string>) =>
    startProcess(fixture, root, {
      KAFKA_BROKERS: broker!.brokers.join(","),
      SLUICE_TOPIC: topic,
      SLUICE_GROUP: groupId,
      SLUICE_OUT: out,
      ...env
    })
  return { offsets, committed, handled, start }
}

describe.skipIf(broker === undefined)("kafkajs", () => {
  suite("kafkajs", {
    fixture,
    cwd: root,
    brokers: broker?.brokers ?? [],
    cluster: KafkaJsTestCluster.layer(broker?.brokers ?? [])
  })
})

describe.skipIf(broker === undefined)("consumer processes on a real broker (kafkajs)", () => {
  it("G3 G7 a restart after SIGKILL redoes only the unfinished records: the slow frontier, not the work finished above it (unordered mode)", async () => {
    const { committed, handled, offsets, start } = await setup("restart", 3000)
    const env = { SLUICE_HANDLER_MS: "1", SLUICE_MODE: "unordered" }
    // Partition 0's offset 5 never finishes: the frontier stays at 5 while the rest finishes.
    const first = start({ ...env, SLUICE_STUCK: "0:5" })
    await waitFor(() => handled().length === 3000 - 1, "everything but the stuck record")
    // Wait until a commit carried every finished offset above the stuck frontier (6 to 999):
    // an earlier commit may name only some of them, and a kill before the last one lands
    // rightly redoes the rest (G7 allows the work since the last commit).
    let metadata = ""
    await poll(async () => {
      const p0 = (await offsets()).find((p) => p.partition === 0)
      if (p0?.offset === "5" && p0.metadata !== null) metadata = p0.metadata
      return OffsetMetadata.decode(5, metadata).length === 999 - 5
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
})
