/**
 * The exactly-once process tests (G10) every driver with Kafka transactions runs on a real
 * broker: exactly-once pipelines (`ProcessFixture.transactionalProgram` in a fixture script)
 * killed with SIGKILL at random points while a second member joins and leaves, and a zombie (a
 * process paused with SIGSTOP past its session timeout, then resumed) fenced. Every input must
 * have exactly one output under `read_committed`: 0 lost, 0 duplicates.
 *
 * @example
 * ```ts
 * import * as TransactionalProcess from "@sluice/testkit/TransactionalProcess"
 * import type { TestCluster } from "@sluice/testkit/TestCluster"
 * import type * as Layer from "effect/Layer"
 *
 * // The driver's TestCluster layer and a read_committed reader of its own.
 * declare const cluster: Layer.Layer<TestCluster>
 * declare const readCommitted: (topic: string, partitions: number, expected: number) => Promise<Array<string>>
 *
 * TransactionalProcess.suite("kafkajs", {
 *   fixture: "/path/to/test/fixtures/transactionalProcess.ts",
 *   cwd: "/path/to/repo",
 *   brokers: ["127.0.0.1:9092"],
 *   cluster,
 *   readCommitted
 * })
 * ```
 *
 * @since 0.3.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, onTestFinished } from "vitest"
import {
  type ConsumerProcess,
  ending,
  exited,
  poll,
  sleep,
  startProcess,
  waitFor,
  waitForProgress
} from "./ProcessHarness.js"
import { fill, TestCluster } from "./TestCluster.js"

/**
 * What `suite` runs against.
 *
 * @since 0.3.0
 */
export interface SuiteOptions {
  /** The fixture script (absolute path): runs `ProcessFixture.transactionalProgram` on the driver. */
  readonly fixture: string
  /** The folder the fixture is started in (where `tsx` resolves). */
  readonly cwd: string
  readonly brokers: ReadonlyArray<string>
  /** A `TestCluster` for the same brokers: topics, records, committed offsets. */
  readonly cluster: Layer.Layer<TestCluster, unknown>
  /**
   * Every value of `topic` (its `partitions`, from the start) a `read_committed` consumer sees,
   * once `expected` arrived (or a deadline passed), and a little longer for a duplicate to show.
   */
  readonly readCommitted: (topic: string, partitions: number, expected: number) => Promise<ReadonlyArray<string>>
  /** SIGKILL trials (10) over this many records (10,000). */
  readonly trials?: number | undefined
  readonly records?: number | undefined
}

const PARTITIONS = 3

/**
 * Outputs per input (`partition:offset:member`), and how many inputs have none or more than one.
 *
 * @since 0.3.0
 */
export const tally = (
  values: ReadonlyArray<string>,
  count: number,
  partitions = PARTITIONS
): { readonly outputs: number; readonly lost: number; readonly duplicates: number } => {
  const seen = new Map<string, number>()
  for (const v of values) {
    const [p, o] = v.split(":")
    const key = `${p}:${o}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  let lost = 0
  for (let i = 0; i < count; i++) if (!seen.has(`${i % partitions}:${Math.floor(i / partitions)}`)) lost++
  const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0)
  return { outputs: values.length, lost, duplicates }
}

/**
 * Registers "G10 SIGKILL at random points …" and "G10 a zombie is fenced …", titled with `name`.
 *
 * @since 0.3.0
 */
export const suite = (name: string, options: SuiteOptions): void => {
  const runtime = ManagedRuntime.make(options.cluster)
  afterAll(() => runtime.dispose())
  const cluster = <A>(f: (c: TestCluster["Type"]) => Effect.Effect<A, unknown>) =>
    runtime.runPromise(Effect.flatMap(TestCluster, f))

  /**
   * An input topic of 3 partitions with `count` records (record i on partition i mod 3), an
   * output topic, a group; `committed` sums the group's offsets.
   */
  const setup = async (prefix: string, count: number) => {
    const topic = `${prefix}-${name}-${process.pid}-${Date.now().toString(36)}`
    const out = `${topic}.out`
    await runtime.runPromise(Effect.zipRight(fill(topic, PARTITIONS, count), fill(out, PARTITIONS, 0)))
    const groupId = `${topic}-group`
    const committed = async () =>
      [...(await cluster((c) => c.committed(groupId, topic))).values()].reduce((sum, o) => sum + Math.max(0, o), 0)
    const outputs = (expected: number) => options.readCommitted(out, PARTITIONS, expected)
    const started: Array<ConsumerProcess> = []
    onTestFinished(() => {
      for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
    })
    const start = (member: string, vars: Record<string, string> = {}) => {
      const p = startProcess(options.fixture, options.cwd, {
        KAFKA_BROKERS: options.brokers.join(","),
        SLUICE_TOPIC: topic,
        SLUICE_OUT_TOPIC: out,
        SLUICE_GROUP: groupId,
        SLUICE_NAME: member,
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

  const records = options.records ?? 10_000
  const trials = options.trials ?? 10

  describe(`exactly-once consumer processes on a real broker (${name})`, () => {
    it(`G10 SIGKILL at random points in ${trials} trials over ${records.toLocaleString("en")} records, a second member joining and leaving: every input has exactly one output under read_committed (${name})`, async () => {
      const { committed, outputs, start } = await setup("g10", records)
      const t0 = Date.now()
      const kills: Array<number> = []
      // Members overlap: once the current member made progress, the next one starts and joins (a
      // rebalance that moves a partition to it), and the current one is killed at a random moment
      // after that, in its processing, in its transactions or in a revocation; the next takes over
      // its partitions once the dead member's session expired. Waiting for the join (bounded) keeps
      // the current member working while the next one starts, so that every trial makes progress.
      // 16 ms a record (under 200 records/s on 3 partitions): the stream outlasts the trials, so
      // that every kill hits a member with work left.
      const vars = { SLUICE_HANDLER_MS: "16" }
      let current = start("m0", vars)
      let extra: ReturnType<typeof start> | undefined
      for (let trial = 0; trial < trials; trial++) {
        // Progress since the last kill (bounded: under a heavy load a kill during a rebalance is a point too).
        const before = kills.at(-1) ?? 0
        await poll(async () => (await committed()) > before, 15_000)
        const next = start(`m${trial + 1}`, vars)
        // A second member joins mid-stream and later leaves gracefully.
        if (trial === 3) extra = start("extra", vars)
        if (trial === 6 && extra !== undefined) {
          // A graceful leave needs a running program: SIGTERM while it still loads would end it.
          await waitFor(extra.ready, "the extra member to start")
          await poll(extra.assigned, 8_000)
          extra.child.kill("SIGTERM")
          expect(await exited(extra.child)).toBe(0)
        }
        // With three members on three partitions the next one may be given nothing yet: bounded.
        await poll(next.assigned, 8_000)
        await sleep(Math.floor(Math.random() * 500))
        current.child.kill("SIGKILL")
        await exited(current.child)
        kills.push(await committed())
        current = next
      }
      // A last member runs until everything is committed, then stops gracefully.
      const last = current
      // However long the rest takes on a loaded machine, as long as it keeps moving. When it stops,
      // the error says what the last member last reported (its events and errors).
      await waitForProgress(committed, records, "every input to be committed").catch((error: Error) => {
        const tail = last.stdout().split("\n").slice(-60).join("\n")
        throw new Error(
          `${error.message}; committed at each kill: ${kills.join(", ")}\nthe last member's output:\n${tail}`
        )
      })
      // On a loaded machine the earlier members may have committed everything while the last one
      // was still loading its modules; a SIGTERM then would end it before its program runs (CI,
      // 2026-12-03: "signal SIGTERM", no output). The graceful stop is checked on a member at work.
      await waitFor(last.assigned, "the last member's assignment")
      last.child.kill("SIGTERM")
      // A graceful stop exits with 0; anything else shows how it ended and what it said last.
      const how = await ending(last.child)
      if (how !== "code 0") {
        throw new Error(
          `the last member ${how} after SIGTERM; its output:\n${last.stdout().split("\n").slice(-60).join("\n")}`
        )
      }
      const result = tally(await outputs(records), records)
      console.info(
        `[sluice] G10 (${name}): ${trials} SIGKILL trials over ${records} records, a second member joining and leaving: ` +
          `${JSON.stringify(result)}; committed at each kill: ${kills.join(", ")}; ${Date.now() - t0} ms`
      )
      expect(result).toEqual({ outputs: records, lost: 0, duplicates: 0 })
    }, 600_000)

    it(`G10 a zombie is fenced: a process paused (SIGSTOP) past its session timeout while the group moves on, then resumed, makes nothing visible (${name})`, async () => {
      const count = 2000
      const { committed, outputs, start } = await setup("g10-zombie", count)
      const zombie = start("zombie", { SLUICE_HANDLER_MS: "3" })
      await waitFor(async () => (await committed()) > 0, "the first member to commit")
      zombie.child.kill("SIGSTOP")
      const successor = start("successor", { SLUICE_HANDLER_MS: "3" })
      // The group expels the paused member after its session timeout and gives its partitions to
      // the successor, which fences the zombie (its producers' transactional ids, and where the
      // client sends the group's metadata with the offsets, KIP-447, its generation).
      await waitFor(successor.assigned, "the successor's assignment")
      await waitFor(async () => (await committed()) >= count / 2, "the successor to make progress")
      zombie.child.kill("SIGCONT")
      await waitForProgress(committed, count, "every input to be committed")
      for (const p of [successor, zombie]) p.child.kill("SIGTERM")
      await Promise.all([exited(successor.child), exited(zombie.child)])
      const values = await outputs(count)
      const result = tally(values, count)
      // The zombie learns it was fenced one of two ways, whichever comes first after SIGCONT: its
      // next transaction is refused (its producer's epoch, or KIP-447's generation), or its client
      // hears from the group that its partitions are gone and the engine drops them as lost
      // without committing (librdkafka's heartbeat may answer before any handler finishes; CI,
      // 2026-12-03). Either way nothing it did after its pause may be visible, which the tally checks.
      const refused = zombie.stdout().includes("treated as lost")
      const lost = zombie.stdout().includes("sluice-event Lost")
      const fenced = refused || lost
      // What refused the zombie: the driver's error, as the engine logged it.
      const refusal = zombie
        .stdout()
        .split("\n")
        .filter((line) => line.includes("treated as lost") || line.includes("TransactionError"))
        .map((line) => line.slice(0, 400))
      const zombieOutputs = values.filter((v) => v.endsWith(":zombie")).length
      console.info(
        `[sluice] G10 zombie (${name}): ${JSON.stringify(result)}; outputs of the zombie (before its pause): ` +
          `${zombieOutputs}; the zombie's commit refused: ${refused}; its partitions lost: ${lost}\n${refusal.join("\n")}`
      )
      expect(result).toEqual({ outputs: count, lost: 0, duplicates: 0 })
      // When it fails, the zombie's last words say what it did after its resume.
      expect(fenced, `the zombie's output:\n${zombie.stdout().split("\n").slice(-40).join("\n")}`).toBe(true)
    }, 120_000)
  })
}
