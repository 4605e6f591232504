/**
 * Guarantees that need a real process, on any driver: a consumer process killed with SIGKILL
 * at random points (G3: nothing is lost, duplicates are bounded and counted) and one stopped
 * with SIGTERM (G8: it drains, commits what it finished and exits 0 within its deadline).
 *
 * A driver package writes a fixture (a script that runs `ProcessFixture.consumerProgram` over
 * its driver under `NodeRuntime.runMain`) and calls `suite` from a test file with that fixture
 * and a `TestCluster` layer for the broker.
 *
 * @example
 * ```ts
 * import * as ProcessHarness from "@sluice/testkit/ProcessHarness"
 * import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
 *
 * declare const cluster: Parameters<typeof ProcessHarness.suite>[1]["cluster"]
 * ProcessHarness.suite("my-driver", {
 *   fixture: "/abs/path/to/test/fixtures/consumerProcess.ts",
 *   cwd: process.cwd(),
 *   brokers: ["127.0.0.1:9092"],
 *   cluster
 * })
 * ```
 *
 * @since 0.2.0
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, onTestFinished } from "vitest"
import { fill, TestCluster } from "./TestCluster.js"

/**
 * A consumer process started by a test.
 *
 * @since 0.2.0
 */
export interface ConsumerProcess {
  readonly child: ChildProcess
  /** Whether the consumer reported its first assignment. */
  readonly assigned: () => boolean
  /**
   * Whether the fixture's program started (it printed `sluice-ready`): from then on SIGTERM is a
   * graceful stop. Before it, the process may still be loading its modules, and SIGTERM's default
   * action ends it with that signal.
   */
  readonly ready: () => boolean
}

/**
 * Resolves with the exit code once `child` exited (null when a signal ended it).
 *
 * @since 0.2.0
 */
export const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode)
    child.once("exit", (code) => resolve(code))
  })

/**
 * Resolves with how `child` ended once it did: `"code N"`, or `"signal NAME"` when a signal
 * ended it (a crash shows up as `signal SIGSEGV` or `signal SIGABRT`, where `exited` says null).
 *
 * @since 0.4.0
 */
export const ending = (child: ChildProcess): Promise<string> =>
  new Promise((resolve) => {
    const say = (code: number | null, signal: NodeJS.Signals | null) =>
      resolve(code !== null ? `code ${code}` : `signal ${signal ?? "unknown"}`)
    if (child.exitCode !== null || child.signalCode !== null) return say(child.exitCode, child.signalCode)
    child.once("exit", say)
  })

/**
 * Resolves after `millis`.
 *
 * @since 0.2.0
 */
export const sleep = (millis: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, millis))

/**
 * Polls `condition` every 50 ms until it holds or `millis` passed, and says whether it held.
 *
 * @since 0.2.0
 */
export const poll = async (condition: () => boolean | Promise<boolean>, millis: number): Promise<boolean> => {
  const deadline = Date.now() + millis
  while (!(await condition())) {
    if (Date.now() > deadline) return false
    await sleep(50)
  }
  return true
}

/**
 * Polls `condition` until it holds; throws after `millis`, naming `what` it waited for.
 *
 * @since 0.2.0
 */
export const waitFor = async (condition: () => boolean | Promise<boolean>, what: string, millis = 90_000) => {
  if (!(await poll(condition, millis))) throw new Error(`timed out waiting for ${what}`)
}

/**
 * Polls `progress` until it reaches `target`; throws when it stops moving for `stallMillis`,
 * naming `what` it waited for and where it stood. For a wait whose length depends on the
 * machine's load (a member working through the rest of a topic): a loaded machine is slower but
 * keeps moving, a stuck member does not.
 *
 * @since 0.3.0
 */
export const waitForProgress = async (
  progress: () => Promise<number>,
  target: number,
  what: string,
  stallMillis = 30_000
): Promise<void> => {
  let last = await progress()
  let movedAt = Date.now()
  while (last < target) {
    if (Date.now() - movedAt > stallMillis) {
      throw new Error(`timed out waiting for ${what}: stuck at ${last} of ${target} for ${stallMillis} ms`)
    }
    await sleep(100)
    const now = await progress()
    if (now !== last) movedAt = Date.now()
    last = now
  }
}

/**
 * Starts `fixture` in a process of its own: node itself with tsx as a loader (not the tsx CLI,
 * which is a parent process of its own: SIGKILL would kill the wrapper and leave the consumer
 * running), with `env` added to this process's environment.
 *
 * @since 0.2.0
 */
export const startProcess = (fixture: string, cwd: string, vars: Record<string, string>): ConsumerProcess => {
  const child = spawn(process.execPath, ["--import", "tsx", fixture], {
    cwd,
    env: { ...process.env, ...vars },
    stdio: ["ignore", "pipe", "inherit"]
  })
  let assigned = false
  let ready = false
  child.stdout!.setEncoding("utf8")
  child.stdout!.on("data", (chunk: string) => {
    if (chunk.includes("sluice-ready")) ready = true
    if (chunk.includes("sluice-event Assigned")) assigned = true
  })
  return { child, assigned: () => assigned, ready: () => ready }
}

/**
 * What `suite` runs against.
 *
 * @since 0.2.0
 */
export interface SuiteOptions {
  /** The fixture script (absolute path). */
  readonly fixture: string
  /** The folder the fixture is started in (where `tsx` resolves). */
  readonly cwd: string
  readonly brokers: ReadonlyArray<string>
  /** A `TestCluster` for the same brokers: topics, records, committed offsets. */
  readonly cluster: Layer.Layer<TestCluster, unknown>
  /** The modes the G3 trials run in; all three by default. */
  readonly modes?: ReadonlyArray<"partition" | "keyed" | "unordered"> | undefined
  /** SIGKILL trials per mode (10) over this many records (10,000). */
  readonly trials?: number | undefined
  readonly records?: number | undefined
  /** Further environment for every fixture process (a driver's protocol, …). */
  readonly env?: Record<string, string> | undefined
}

const PARTITIONS = 3

/**
 * Registers the process tests: "G3 SIGKILL at random points …" per mode and "G8 SIGTERM
 * mid-stream …", titled with `name`.
 *
 * @since 0.2.0
 */
export const suite = (name: string, options: SuiteOptions): void => {
  const runtime = ManagedRuntime.make(options.cluster)
  afterAll(() => runtime.dispose())
  const cluster = <A>(f: (c: TestCluster["Type"]) => Effect.Effect<A, unknown>) =>
    runtime.runPromise(Effect.flatMap(TestCluster, f))
  const records = options.records ?? 10_000
  const trials = options.trials ?? 10

  /**
   * A topic of 3 partitions with `count` records (record i on partition i mod 3), a group, and
   * a file the consumer processes append `partition:offset` to, one line per record handled.
   */
  const setup = async (prefix: string, count: number) => {
    const topic = `${prefix}-${name}-${process.pid}-${Date.now().toString(36)}`
    await runtime.runPromise(fill(topic, PARTITIONS, count))
    const groupId = `${topic}-group`
    const out = join(mkdtempSync(join(tmpdir(), `sluice-${prefix}-`)), "handled.log")
    const committed = () => cluster((c) => c.committed(groupId, topic))
    const handled = (): Array<string> =>
      existsSync(out)
        ? readFileSync(out, "utf8")
            .split("\n")
            .filter((l) => l !== "")
        : []
    const started: Array<ConsumerProcess> = []
    onTestFinished(() => {
      for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
    })
    const start = (vars: Record<string, string>): ConsumerProcess => {
      const p = startProcess(options.fixture, options.cwd, {
        KAFKA_BROKERS: options.brokers.join(","),
        SLUICE_TOPIC: topic,
        SLUICE_GROUP: groupId,
        SLUICE_OUT: out,
        ...options.env,
        ...vars
      })
      started.push(p)
      return p
    }
    return { committed, handled, start }
  }

  describe(`consumer processes on a real broker (${name})`, () => {
    for (const mode of options.modes ?? ["partition", "keyed", "unordered"]) {
      it(`G3 SIGKILL at random points in ${trials} trials over ${records.toLocaleString("en")} records: after a restart every record was handled (${name}, ${mode} mode)`, async () => {
        const { committed, handled, start } = await setup("g3", records)
        const vars = {
          // 16 records in flight per partition in the concurrent modes: slower handlers keep
          // the pace (and so the kill points) comparable across modes.
          SLUICE_HANDLER_MS: mode === "partition" ? "1" : "16",
          SLUICE_MODE: mode
        }
        const kills: Array<number> = []
        for (let trial = 0; trial < trials; trial++) {
          const before = handled().length
          const consumer = start(vars)
          // Let it make some progress, then kill it at a random moment.
          await waitFor(
            () => handled().length > before || new Set(handled()).size === records,
            `trial ${trial} to make progress`
          )
          await sleep(Math.floor(Math.random() * 500))
          consumer.child.kill("SIGKILL")
          await exited(consumer.child)
          kills.push(handled().length)
        }
        // A final consumer runs until every record was handled, then stops gracefully.
        const last = start(vars)
        await waitFor(last.assigned, "the last consumer's assignment")
        await waitFor(() => new Set(handled()).size === records, "every record to be handled", 180_000)
        const total = async () => [...(await committed()).values()].reduce((a, b) => a + Math.max(0, b), 0)
        await poll(async () => (await total()) >= records, 20_000)
        last.child.kill("SIGTERM")
        expect(await exited(last.child)).toBe(0)

        const lines = handled()
        const distinct = new Set(lines)
        for (let i = 0; i < records; i++) {
          expect(distinct.has(`${i % PARTITIONS}:${Math.floor(i / PARTITIONS)}`)).toBe(true)
        }
        const duplicates = lines.length - distinct.size
        console.info(
          `[sluice] G3 (${name}, ${mode} mode): ${trials} SIGKILL trials over ${records} records: ${duplicates} duplicates ` +
            `(${((duplicates / records) * 100).toFixed(2)} %), handled counts at each kill: ${kills.join(", ")}`
        )
        expect(await total()).toBe(records)
      }, 400_000)
    }

    it(`G8 SIGTERM mid-stream: the process exits 0 within its deadline and everything it finished is committed (${name})`, async () => {
      const { committed, handled, start } = await setup("g8", 3000)
      const consumer = start({ SLUICE_HANDLER_MS: "5" })
      await waitFor(() => handled().length >= 300, "progress")
      const signalled = Date.now()
      consumer.child.kill("SIGTERM")
      const code = await exited(consumer.child)
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
      console.info(`[sluice] G8 (${name}): SIGTERM after ${lines.length} records, exit 0 in ${took} ms`)
    }, 120_000)
  })
}
