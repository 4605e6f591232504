/**
 * `sluice lag` as a user runs it: the executable (`src/bin.ts` under tsx) spawned as a process
 * against the real broker. The test produces and commits known offsets, holds a member on the
 * group, and reads the screen: every partition with its owner, committed offset, log-end
 * offset, lag and bar; `--watch` shows the log end moving; an unknown group or unreachable
 * brokers end with a message and exit 1, never a hang (bad flags: cli.test.ts, in process).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Admin from "@sluice/core/Admin"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as KafkaJsAdmin from "@sluice/kafkajs/KafkaJsAdmin"
import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
import * as KafkaJsProducer from "@sluice/kafkajs/KafkaJsProducer"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { uniqueName } from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

const broker = await brokerForTests()
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly millis: number
}

// The brokers come from --brokers only (CI sets KAFKA_BROKERS).
const { KAFKA_BROKERS: _, ...withoutBrokers } = process.env

/** Starts `sluice <args>`; `output` holds what it printed so far. */
const start = (args: ReadonlyArray<string>) => {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/bin.ts", ...args], {
    cwd: packageDir,
    env: withoutBrokers,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const output = { stdout: "", stderr: "" }
  child.stdout!.on("data", (chunk) => {
    output.stdout += chunk
  })
  child.stderr!.on("data", (chunk) => {
    output.stderr += chunk
  })
  const began = Date.now()
  const done = new Promise<Run>((resolve) =>
    child.on("exit", (code) => resolve({ code, ...output, millis: Date.now() - began }))
  )
  return { child, output, done }
}

const sluice = (args: ReadonlyArray<string>): Promise<Run> => start(args).done

const until = async (what: string, predicate: () => boolean | Promise<boolean>, patience = 60_000) => {
  const deadline = Date.now() + patience
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A table row of the screen: its cells split on runs of two or more spaces. */
const cells = (line: string): Array<string> => line.trim().split(/\s{2,}/)

describe.skipIf(broker === undefined)("sluice lag on a real broker", () => {
  const brokers = broker?.brokers ?? []
  const topic = uniqueName("sluice-lag")
  const groupId = uniqueName("sluice-lag-group")
  let member: Fiber.RuntimeFiber<never, unknown> | undefined
  let memberId = ""

  const admin = KafkaJsAdmin.layer({ brokers, logLevel: "error" })
  const producer = KafkaJsProducer.layer({ brokers, logLevel: "error" })
  const produce = (partition: number, count: number) =>
    Effect.flatMap(ProducerDriver, (p) =>
      p.send(
        Array.from({ length: count }, (_, i) => ({
          topic,
          partition,
          key: null,
          value: new TextEncoder().encode(String(i)),
          headers: []
        }))
      )
    ).pipe(Effect.provide(producer))

  beforeAll(async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const a = yield* Admin.Admin
        yield* a.createTopics([{ name: topic, partitions: 3 }])
        yield* produce(0, 10)
        yield* produce(1, 10)
        yield* produce(2, 4)
        // Partition 0 committed at 3, partition 1 at 7, partition 2 not yet.
        yield* a.resetOffsets({
          groupId,
          topic,
          to: Admin.offsets([
            { partition: 0, offset: 3 },
            { partition: 1, offset: 7 }
          ])
        })
      }).pipe(Effect.provide(admin))
    )
    // A member that holds every record it gets: it owns the partitions and commits nothing.
    const settings = await Effect.runPromise(
      ConsumerSettings.make({
        groupId,
        clientId: "lag-test-member",
        revocation: ConsumerSettings.interrupt,
        shutdownTimeout: "2 seconds"
      })
    )
    const consumer = await Effect.runPromise(
      Consumer.make(settings).pipe(Effect.provide(KafkaJsDriver.layer({ brokers, logLevel: "error" })))
    )
    member = Effect.runFork(
      consumer
        .run({ topics: [topic], handler: () => Effect.never })
        .pipe(Effect.provide(KafkaJsDriver.layer({ brokers, logLevel: "error" })))
    )
    await until("the member to own all three partitions", () => {
      const health = Effect.runSync(consumer.health())
      memberId = health.members[0]?.memberId ?? ""
      return health.ready && health.members[0]?.assigned.length === 3
    })
    // The member commits where it starts partition 2 (its frontier: offset 0, unfinished).
    await until("partition 2 committed at 0", async () => {
      const group = await Effect.runPromise(
        Effect.flatMap(Admin.Admin, (a) => a.describeGroup(groupId)).pipe(Effect.provide(admin), Effect.either)
      )
      return group._tag === "Right" && group.right.offsets.find((o) => o.partition === 2)?.committed === 0
    })
  }, 120_000)

  afterAll(async () => {
    if (member !== undefined) await Effect.runPromise(Fiber.interrupt(member))
    await Effect.runPromise(
      Effect.flatMap(Admin.Admin, (a) => a.deleteTopics([topic], { ifExists: true })).pipe(
        Effect.provide(admin),
        Effect.ignore
      )
    )
  })

  it("shows each partition's owner, committed offset, log-end offset, lag and bar", async () => {
    const run = await sluice(["lag", "--group", groupId, "--brokers", brokers.join(",")])
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    const lines = run.stdout.trimEnd().split("\n")
    // The heading: the total lag (7 + 3 + 4).
    expect(lines[0]).toMatch(
      new RegExp(
        `^group ${groupId}  state Stable  members 1  lag 14  brokers ${brokers.join(",")}  at \\d\\d:\\d\\d:\\d\\dZ$`
      )
    )
    expect(lines[1]).toBe("")
    expect(cells(lines[2]!)).toEqual(["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OWNER", "CLIENT", "HOST"])
    const owner = [memberId, "lag-test-member", expect.stringMatching(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/)]
    // Lag 7 is the largest (a full bar); 3 gets 9 of 20 characters, 4 gets 11.
    expect(cells(lines[3]!)).toEqual([topic, "0", "3", "10", "7", "█".repeat(20), ...owner])
    expect(cells(lines[4]!)).toEqual([topic, "1", "7", "10", "3", "█".repeat(9) + "░".repeat(11), ...owner])
    expect(cells(lines[5]!)).toEqual([topic, "2", "0", "4", "4", "█".repeat(11) + "░".repeat(9), ...owner])
    expect(lines).toHaveLength(6)
    expect(memberId).toMatch(/^lag-test-member-/)
  })

  it("--watch refreshes the screen until Ctrl-C: the log end and the lag move as records arrive", async () => {
    const watching = start(["lag", "--group", groupId, "--brokers", brokers.join(","), "--watch", "--interval", "0.5"])
    const row0 = (end: number, lag: number) =>
      watching.output.stdout
        .split("\n")
        .some((line) => cells(line).slice(0, 5).join(" ") === `${topic} 0 3 ${end} ${lag}`)
    await until("the first screen", () => row0(10, 7))
    await Effect.runPromise(produce(0, 5))
    await until("a screen with partition 0 at 15", () => row0(15, 12))
    const screens = watching.output.stdout.split("\n").filter((l) => l.startsWith(`group ${groupId}`))
    expect(screens.length).toBeGreaterThanOrEqual(2)
    watching.child.kill("SIGINT")
    const run = await watching.done
    expect(run.code).toBe(0)
    expect(run.stderr).toBe("")
  })

  it("an unknown group or unreachable brokers end with a message and exit 1, never a hang", async () => {
    const [unknown, unreachable] = await Promise.all([
      sluice(["lag", "--group", uniqueName("sluice-no-such-group"), "--brokers", brokers.join(",")]),
      sluice(["lag", "--group", groupId, "--brokers", "127.0.0.1:1", "--timeout", "2"])
    ])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(
      /^sluice lag: group "sluice-no-such-group.*" not found: it has no members and no committed offsets\n$/
    )
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toMatch(/^sluice lag: (could not reach|no answer from) 127\.0\.0\.1:1/)
    for (const run of [unknown, unreachable]) expect(run.stdout).toBe("")
  }, 120_000)
})
