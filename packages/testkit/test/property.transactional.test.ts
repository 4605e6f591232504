/**
 * G10 on random fault schedules: exactly-once pipelines (`Pipeline.exactlyOnce`) on the
 * simulated cluster under drawn sequences of production, members joining and leaving, crashes
 * (zombies that keep running until their session expires), fencing, forced rebalances and
 * failing transactions, in every processing mode and group protocol, with a drawn transaction
 * size. After every step, what a read_committed reader sees is checked against the group's
 * committed offsets:
 *
 * - no input has two outputs;
 * - every input below its partition's committed offset has its output (outputs and offsets
 *   commit in one transaction).
 *
 * At the end, with a member left to finish, every input has exactly one output.
 *
 * Runs: `SLUICE_G10_PROPERTY_RUNS` schedules per mode (default 10), from a fixed seed unless
 * `SLUICE_G10_PROPERTY_SEED` is set; a failure prints the seed and path to replay it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as fc from "fast-check"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { TestCluster } from "../src/TestCluster.js"

const runs = Number(process.env.SLUICE_G10_PROPERTY_RUNS ?? 10)
const seed = process.env.SLUICE_G10_PROPERTY_SEED === undefined ? 10_10 : Number(process.env.SLUICE_G10_PROPERTY_SEED)
const path = process.env.SLUICE_G10_PROPERTY_PATH

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const group = "g10-property"
const input = Topic.make({ name: "in", key: Codec.string, value: Codec.string })
const output = Topic.make({ name: "out", key: Codec.string, value: Codec.string })

type Mode = "partition" | "keyed" | "unordered"

type Step =
  | { readonly _tag: "Produce"; readonly count: number }
  | { readonly _tag: "Join" }
  | { readonly _tag: "Leave"; readonly member: number }
  | { readonly _tag: "Crash"; readonly member: number }
  | { readonly _tag: "Fence"; readonly member: number }
  | { readonly _tag: "Rebalance" }
  | { readonly _tag: "FailTransactions"; readonly error: MemoryKafka.TransactionFault }
  | { readonly _tag: "Wait"; readonly millis: number }

interface Schedule {
  readonly protocol: "eager" | "cooperative" | "consumer"
  readonly size: number
  readonly steps: ReadonlyArray<Step>
}

const member = fc.integer({ min: 0, max: 4 })
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ _tag: fc.constant("Produce" as const), count: fc.integer({ min: 1, max: 60 }) })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Join" as const) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Leave" as const), member }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Crash" as const), member }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Fence" as const), member }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Rebalance" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constant("FailTransactions" as const),
      // Retriable only: a transaction the coordinator timed out fences its producer, and the
      // partition is then treated as lost and idles until the group's next rebalance (the
      // liveness gap this property found; docs/exactly-once.md). Safety under timeouts is
      // checked by memory.transactional.test.ts.
      error: fc.constant("retriable" as const)
    })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Wait" as const), millis: fc.constantFrom(20, 100, 400) }) }
)
const schedule: fc.Arbitrary<Schedule> = fc.record({
  protocol: fc.constantFrom("eager" as const, "cooperative" as const, "consumer" as const),
  size: fc.constantFrom(1, 7, 50),
  steps: fc.array(step, { minLength: 1, maxLength: 12 })
})

const processingMode = (mode: Mode): ProcessingMode.ProcessingMode =>
  mode === "partition"
    ? ProcessingMode.partition
    : mode === "keyed"
      ? ProcessingMode.keyed({ concurrency: 4 })
      : ProcessingMode.unordered({ concurrency: 4 })

/** One output per input, the input's value; some records sleep so that they overlap. */
const pipeline = (mode: Mode, size: number) =>
  Pipeline.make({
    topic: input,
    mode: processingMode(mode),
    handler: (record: Topic.RecordOf<typeof input>) =>
      Effect.zipRight(
        Number(record.value) % 7 === 0 ? Effect.sleep(Number(record.value) % 5) : Effect.yieldNow(),
        Effect.flatMap(Producer.Producer, (producer) =>
          producer.send(output, [{ key: record.key ?? "", value: record.value }])
        )
      )
  }).pipe(Pipeline.exactlyOnce({ size, within: "20 millis", transactionalIdPrefix: "g10p" }))

const settings = ConsumerSettings.make({
  groupId: group,
  sessionTimeout: "300 millis",
  heartbeatInterval: "50 millis",
  commitInterval: "20 millis",
  shutdownTimeout: "5 seconds"
})

/** What went wrong after a step, or `undefined`. */
const violation = (mode: Mode) =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    const cluster = yield* TestCluster
    // Offsets first: whatever they cover was committed with its outputs, so the outputs read
    // after them must show it.
    const committed = yield* kafka.committed(group, "in")
    const outputs = (yield* cluster.readAll("out")).map((r) => decoder.decode(r.value!))
    const seen = new Map<string, number>()
    for (const value of outputs) seen.set(value, (seen.get(value) ?? 0) + 1)
    for (const [value, n] of seen) if (n > 1) return `input ${value} has ${n} outputs (${mode} mode)`
    for (const [partition, offset] of committed) {
      const records = yield* kafka.records("in", partition)
      for (const record of records) {
        if (record.offset >= offset.offset) break
        const value = decoder.decode(record.value!)
        if (!seen.has(value)) {
          return `input ${value} (in-${partition}@${record.offset}) is below the committed offset ${offset.offset} but has no output (${mode} mode)`
        }
      }
    }
    return undefined
  })

const runSchedule = (mode: Mode, s: Schedule) =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    yield* kafka.createTopic("in", 4)
    yield* kafka.createTopic("out", 3)
    const members: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
    const join = Effect.gen(function* () {
      const consumer = yield* Consumer.make(yield* settings)
      members.push(
        yield* Effect.fork(
          Pipeline.run(pipeline(mode, s.size)).pipe(Effect.provideService(Consumer.Consumer, consumer))
        )
      )
    })
    const memberId = (n: number) =>
      Effect.map(kafka.group(group), (g) =>
        g === undefined || g.members.length === 0 ? undefined : g.members[n % g.members.length]!.memberId
      )
    let produced = 0
    const produce = (count: number) =>
      Effect.gen(function* () {
        yield* kafka.produce(
          Array.from({ length: count }, (_, i) => ({
            topic: "in",
            key: encoder.encode(`k${(produced + i) % 11}`),
            value: encoder.encode(String(produced + i))
          }))
        )
        produced += count
      })
    const check = (after: string) =>
      Effect.flatMap(violation(mode), (problem) =>
        problem === undefined ? Effect.void : Effect.dieMessage(`G10 after ${after}: ${problem}`)
      )

    yield* join
    for (const [i, step] of s.steps.entries()) {
      switch (step._tag) {
        case "Produce":
          yield* produce(step.count)
          break
        case "Join":
          if (members.length < 5) yield* join
          break
        case "Leave": {
          const fiber = members.splice(step.member % Math.max(1, members.length), 1)[0]
          if (fiber !== undefined) yield* Fiber.interrupt(fiber)
          break
        }
        case "Crash":
        case "Fence": {
          const id = yield* memberId(step.member)
          if (id !== undefined) {
            yield* (step._tag === "Crash" ? kafka.faults.crash(id) : kafka.faults.fence(id)).pipe(Effect.ignore)
          }
          break
        }
        case "Rebalance":
          yield* kafka.faults.forceRebalance(group)
          break
        case "FailTransactions":
          yield* kafka.faults.failTransactions({ times: 2, error: step.error })
          break
        case "Wait":
          yield* Effect.sleep(step.millis)
          break
      }
      yield* Effect.sleep("30 millis")
      yield* check(`step ${i + 1} (${step._tag})`)
    }
    // A fresh member finishes what is left, whatever the schedule did to the others.
    yield* join
    const deadline = Date.now() + 20_000
    for (;;) {
      yield* check("the end")
      const outputs = yield* Effect.flatMap(TestCluster, (c) => c.readAll("out"))
      if (outputs.length >= produced) break
      if (Date.now() > deadline) {
        return yield* Effect.dieMessage(`G10: ${outputs.length} of ${produced} inputs have an output after 20 s`)
      }
      yield* Effect.sleep("50 millis")
    }
    yield* Effect.sleep("100 millis")
    yield* check("the end, settled")
    const outputs = (yield* Effect.flatMap(TestCluster, (c) => c.readAll("out"))).map((r) => decoder.decode(r.value!))
    expect(new Set(outputs).size).toBe(produced)
    expect(outputs.length).toBe(produced)
    for (const fiber of members) yield* Fiber.interrupt(fiber)
  }).pipe(Effect.provide(MemoryKafka.layer({ seed: 7, protocol: s.protocol })))

describe("property: exactly-once pipelines on random fault schedules (G10)", () => {
  for (const mode of ["partition", "keyed", "unordered"] as const) {
    it(`G10 every input has exactly one output under read_committed, checked after every step (${mode} mode)`, async () => {
      await fc.assert(
        fc.asyncProperty(schedule, (s) => Effect.runPromise(runSchedule(mode, s))),
        { numRuns: runs, seed, ...(path === undefined ? {} : { path }), endOnFailure: true }
      )
    }, 300_000)
  }
})
