/**
 * The conformance suite: the engine's guarantees (G1–G9 of docs/guarantees.md) as tests that
 * run unchanged on every driver — the simulated cluster and kafkajs on a real broker. A driver
 * package calls `suite(name, layer)` from one of its test files; the helpers the tests are
 * written with are in `TestHelpers`.
 *
 * @since 0.1.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as CommittableRecord from "@sluice/core/CommittableRecord"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import { headerString } from "@sluice/core/ConsumerRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as Topic from "@sluice/core/Topic"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { TestCluster } from "./TestCluster.js"
import {
  committedWhen,
  coverage,
  eventually,
  expectMonotonicCommits,
  freshTopic,
  type Handled,
  handledCounts,
  inFlight,
  numberedRecords,
  ownedPartitions,
  startMember,
  uniqueName
} from "./TestHelpers.js"

/**
 * How patient the conformance suite is with a driver: timeouts and waits.
 *
 * @since 0.1.0
 */
export interface SuiteOptions {
  /** Session timeout for the members of the suite (a real broker's minimum is usually 6 s). */
  readonly sessionTimeout: Duration.DurationInput
  readonly heartbeatInterval: Duration.DurationInput
  /** How long a test may wait for a condition (group joins on a real broker take seconds). */
  readonly patience: Duration.DurationInput
  /** Per-test timeout in milliseconds for vitest. */
  readonly testTimeout: number
}

const defaultOptions: SuiteOptions = {
  sessionTimeout: "10 seconds",
  heartbeatInterval: "500 millis",
  patience: "60 seconds",
  testTimeout: 120_000
}

const modes: ReadonlyArray<ProcessingMode.ProcessingMode> = [
  ProcessingMode.partition,
  ProcessingMode.keyed({ concurrency: 8 }),
  ProcessingMode.unordered({ concurrency: 8 })
]

const label = (mode: ProcessingMode.ProcessingMode): string => `${mode._tag.toLowerCase()} mode`

const encoder = new TextEncoder()

/**
 * Registers the conformance tests for a driver. `layer` provides the driver and a
 * `TestCluster` for the same cluster.
 *
 * @since 0.1.0
 */
export const suite = <E>(
  name: string,
  layer: Layer.Layer<ConsumerDriver | ProducerDriver | TestCluster, E>,
  overrides: Partial<SuiteOptions> = {}
): void => {
  const options: SuiteOptions = { ...defaultOptions, ...overrides }
  const memberSettings: Partial<ConsumerSettings.Input> = {
    sessionTimeout: options.sessionTimeout,
    heartbeatInterval: options.heartbeatInterval
  }
  const wait = (predicate: () => boolean, what: string) => eventually(predicate, what, options.patience)
  const test = (
    title: string,
    body: () => Effect.Effect<void, unknown, ConsumerDriver | ProducerDriver | TestCluster>
  ) => it.live(title, () => body().pipe(Effect.provide(layer)), options.testTimeout)

  describe(`conformance: ${name}`, () => {
    test("a mode whose concurrency is 0, -1 or NaN fails the consumer within a second with a SettingsError naming concurrency, before it joins", () =>
      Effect.gen(function* () {
        const { groupId, topic } = yield* freshTopic("bad-mode", 1, 0)
        const consumer = yield* Consumer.make(yield* ConsumerSettings.make({ groupId, ...memberSettings }))
        for (const mode of [
          ProcessingMode.keyed({ concurrency: 0 }),
          ProcessingMode.unordered({ concurrency: -1 }),
          ProcessingMode.keyed({ concurrency: Number.NaN })
        ]) {
          const error = yield* Effect.flip(
            consumer
              .run({ topics: [topic], mode, handler: () => Effect.void })
              .pipe(Effect.timeoutFail({ duration: "1 second", onTimeout: () => "still running after a second" }))
          )
          expect(error).toMatchObject({ _tag: "SettingsError", setting: "mode.concurrency" })
        }
      }))

    for (const mode of modes) {
      test(`G1 G2 a handler failing at offset N: nothing at or past N is committed, commits are monotonic, a restart resumes at N (${label(mode)})`, () =>
        Effect.gen(function* () {
          const { cluster, groupId, topic } = yield* freshTopic("g1", 3, 300)
          const probe: Array<Handled> = []
          const failAt = 57 // partition 0 holds records 0, 3, 6, …: its offset 57 is record 171
          const first = yield* startMember({
            name: "a",
            groupId,
            topic,
            probe,
            mode,
            settings: memberSettings,
            handler: (r) => (r.partition === 0 && r.offset === failAt ? Effect.fail("poison" as const) : Effect.void)
          })
          const exit = yield* Fiber.await(first.fiber)
          expect(Exit.isFailure(exit)).toBe(true)
          const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
          expect(failure).toMatchObject({ _tag: "HandlerError", partition: 0, offset: failAt })
          const committed = yield* cluster.committed(groupId, topic)
          // Everything before it finished and was committed on the way out; nothing past it.
          expect(committed.get(0)).toBe(failAt)
          expectMonotonicCommits(first.events)
          for (const event of first.events) {
            if (event._tag !== "Committed") continue
            for (const o of event.offsets) if (o.partition === 0) expect(o.offset).toBeLessThanOrEqual(failAt)
          }
          // A restarted member resumes partition 0 at the failed record and, in the
          // concurrent modes, skips what finished above it (commit metadata).
          const restartProbe: Array<Handled> = []
          const second = yield* startMember({
            name: "b",
            groupId,
            topic,
            probe: restartProbe,
            mode,
            settings: memberSettings
          })
          yield* wait(
            () => (handledCounts([...probe, ...restartProbe]).get(0)?.size ?? 0) === 100,
            "every record of p0 to be handled"
          )
          const p0 = restartProbe.filter((h) => h.partition === 0).map((h) => h.offset)
          expect(Math.min(...p0)).toBe(failAt)
          if (mode._tag === "Partition") expect(p0[0]).toBe(failAt)
          yield* Fiber.interrupt(second.fiber)
          expectMonotonicCommits(second.events)
          expect((yield* cluster.committed(groupId, topic)).get(0)).toBe(100)
          // No record of p0 handled successfully twice across the restart.
          const counts = handledCounts([...probe, ...restartProbe]).get(0)!
          expect([...counts.values()].filter((n) => n > 1)).toEqual([])
        }))
    }

    test("G4 revocation interrupts in-flight work, runs its finalizers, commits at most the first unprocessed offset; the new owner handles the rest", () =>
      Effect.gen(function* () {
        const { cluster, groupId, topic } = yield* freshTopic("g4", 2, 40)
        const probe: Array<Handled> = []
        const released = yield* Ref.make<Array<{ partition: number; offset: number }>>([])
        // Member a is slow and holds a resource per record: every record is in flight for 10 s.
        const a = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          settings: { ...memberSettings, revocation: ConsumerSettings.interrupt },
          handler: (r) =>
            Effect.acquireRelease(Effect.void, () => Ref.update(released, (xs) => [...xs, r])).pipe(
              Effect.zipRight(Effect.sleep("10 seconds"))
            )
        })
        yield* wait(
          () => ownedPartitions(a.events).size === 2 && probe.length >= 2,
          "a to own both partitions and start"
        )
        const b = yield* startMember({ name: "b", groupId, topic, probe, settings: memberSettings })
        yield* wait(() => ownedPartitions(b.events).size === 1, "b to get a partition")
        const moved = [...ownedPartitions(b.events)][0]!
        const revoked = a.events.find((e) => e._tag === "Revoked" && e.partition.partition === moved)
        expect(revoked).toBeDefined()
        if (revoked?._tag === "Revoked") {
          expect(revoked.interrupted).toBe(true)
          // The interrupted record (offset 0 of the moved partition) was not finished.
          expect(revoked.committed ?? 0).toBeLessThanOrEqual(0)
        }
        const finalizers = yield* Ref.get(released)
        expect(finalizers.some((r) => r.partition === moved && r.offset === 0)).toBe(true)
        expect(probe.some((h) => h.member === "a" && h.partition === moved && h.outcome === "interrupted")).toBe(true)
        // b handles every record of the moved partition: nothing lost.
        yield* wait(
          () => probe.filter((h) => h.member === "b" && h.partition === moved && h.outcome === "ok").length === 20,
          "b to handle the moved partition"
        )
        const committed = yield* cluster.committed(groupId, topic)
        expect(committed.get(moved) ?? 0).toBeGreaterThanOrEqual(0)
        yield* Fiber.interrupt(b.fiber)
        yield* Fiber.interrupt(a.fiber)
        expect((yield* cluster.committed(groupId, topic)).get(moved)).toBe(20)
        expectMonotonicCommits(a.events)
        expectMonotonicCommits(b.events)
      }))

    test("G5 three partitions are processed side by side, each strictly in offset order", () =>
      Effect.gen(function* () {
        const { groupId, topic } = yield* freshTopic("g5", 3, 150)
        const probe: Array<Handled> = []
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          settings: memberSettings,
          handler: () => Effect.sleep("3 millis")
        })
        yield* wait(() => coverage(probe).distinct === 150, "all 150 records")
        yield* Fiber.interrupt(member.fiber)
        for (const partition of [0, 1, 2]) {
          const calls = probe.filter((h) => h.partition === partition)
          expect(calls.map((h) => h.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i))
          for (let i = 1; i < calls.length; i++) expect(calls[i]!.start).toBeGreaterThanOrEqual(calls[i - 1]!.end!)
        }
        // Side by side: some handler of one partition started while another partition's ran.
        const overlapping = probe.some((h) =>
          probe.some((o) => o.partition !== h.partition && o.start < h.end! && h.start < o.end!)
        )
        expect(overlapping).toBe(true)
      }))

    test("G6 a tiny buffer and a slow handler: the partition is paused and resumed, the buffer stays bounded", () =>
      Effect.gen(function* () {
        const cluster = yield* TestCluster
        const topic = uniqueName("g6")
        const groupId = uniqueName("g6-group")
        yield* cluster.createTopic(topic, 1)
        // Produced in small sends: a real broker returns whole record batches, so the overshoot
        // past the buffer limit is one fetch of (small) batches.
        for (let from = 0; from < 60; from += 5) yield* cluster.produce(numberedRecords(topic, 1, 5, from))
        const probe: Array<Handled> = []
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          settings: {
            ...memberSettings,
            buffer: { perPartition: 5, total: 5 },
            // Fetches of at most ~1 KiB: a fetch overshoots the limit by a few records only.
            maxBytesPerPartition: 1024
          },
          handler: () => Effect.sleep("20 millis")
        })
        yield* wait(() => coverage(probe).distinct === 60, "all 60 records")
        yield* Fiber.interrupt(member.fiber)
        const paused = member.events.filter((e) => e._tag === "Paused")
        const resumed = member.events.filter((e) => e._tag === "Resumed")
        expect(paused.length).toBeGreaterThan(0)
        expect(resumed.length).toBeGreaterThan(0)
        for (const e of paused) if (e._tag === "Paused") expect(e.buffered).toBeLessThanOrEqual(5 + 50)
        // Every pause was followed by a resume (the last pause may end with the topic drained).
        expect(resumed.length).toBeGreaterThanOrEqual(paused.length - 1)
      }))

    test("G6 a handler slower than the session timeout does not cost the member its partitions", () =>
      Effect.gen(function* () {
        const { groupId, topic } = yield* freshTopic("g6-slow", 1, 3)
        const probe: Array<Handled> = []
        const slow = Duration.sum(Duration.decode(options.sessionTimeout), Duration.seconds(1))
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          settings: memberSettings,
          handler: (r) => (r.offset === 0 ? Effect.sleep(slow) : Effect.void)
        })
        yield* wait(() => coverage(probe).distinct === 3, "all 3 records")
        yield* Fiber.interrupt(member.fiber)
        expect(member.events.filter((e) => e._tag === "Lost" || e._tag === "Revoking")).toEqual([
          expect.objectContaining({ _tag: "Revoking" }) // only the shutdown's own
        ])
        expect(coverage(probe).duplicates).toBe(0)
      }))

    for (const mode of modes) {
      test(`G7 drain-mode revocation and graceful shutdown cause no duplicates (${label(mode)})`, () =>
        Effect.gen(function* () {
          const total = 400
          const { cluster, groupId, topic } = yield* freshTopic("g7", 2, total)
          const probe: Array<Handled> = []
          const drainSettings = { ...memberSettings, revocation: ConsumerSettings.drain("20 seconds") }
          const handler = () => Effect.sleep("5 millis")
          const a = yield* startMember({ name: "a", groupId, topic, probe, mode, settings: drainSettings, handler })
          yield* wait(() => coverage(probe).distinct >= 40, "a to make progress")
          const b = yield* startMember({ name: "b", groupId, topic, probe, mode, settings: drainSettings, handler })
          yield* wait(() => ownedPartitions(b.events).size === 1, "b to get a partition")
          yield* wait(() => coverage(probe).distinct >= 250, "progress after the rebalance")
          // Graceful shutdown of a mid-stream: b takes everything over.
          yield* Fiber.interrupt(a.fiber)
          yield* wait(() => coverage(probe).distinct === total, "every record")
          yield* Fiber.interrupt(b.fiber)
          expect(coverage(probe)).toEqual({ distinct: total, duplicates: 0 })
          const committed = yield* cluster.committed(groupId, topic)
          expect([committed.get(0), committed.get(1)]).toEqual([total / 2, total / 2])
          expectMonotonicCommits(a.events)
          expectMonotonicCommits(b.events)
        }))
    }

    test("G8 interruption drains, commits everything finished and leaves the group", () =>
      Effect.gen(function* () {
        const { cluster, groupId, topic } = yield* freshTopic("g8", 2, 100)
        const probe: Array<Handled> = []
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          settings: { ...memberSettings, commitInterval: "1 hour", commitEvery: 1_000_000 },
          handler: () => Effect.sleep("5 millis")
        })
        yield* wait(() => coverage(probe).distinct >= 30, "progress")
        yield* Fiber.interrupt(member.fiber)
        const finished = handledCounts(probe)
        const committed = yield* cluster.committed(groupId, topic)
        for (const partition of [0, 1]) {
          const done = finished.get(partition) ?? new Map()
          // Nothing was committed by interval or count: only the shutdown's final commit.
          expect(committed.get(partition) ?? 0).toBe(done.size)
        }
        // A new member starts exactly after what was finished.
        const next: Array<Handled> = []
        const again = yield* startMember({ name: "b", groupId, topic, probe: next, settings: memberSettings })
        yield* wait(() => coverage(next).distinct === 100 - coverage(probe).distinct, "the rest")
        yield* Fiber.interrupt(again.fiber)
        expect(coverage([...probe, ...next])).toEqual({ distinct: 100, duplicates: 0 })
      }))

    test("G5 keyed: records of one key never overlap and run in offset order; other keys run side by side", () =>
      Effect.gen(function* () {
        const cluster = yield* TestCluster
        const topic = uniqueName("g5-keyed")
        const groupId = uniqueName("g5-keyed-group")
        yield* cluster.createTopic(topic, 1)
        yield* cluster.produce(
          Array.from({ length: 200 }, (_, i) => ({
            topic,
            partition: 0,
            key: encoder.encode(`key-${i % 10}`),
            value: encoder.encode(String(i))
          }))
        )
        const probe: Array<Handled> = []
        const keys = new Map<number, string>()
        const calls = inFlight()
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          mode: ProcessingMode.keyed({ concurrency: 8 }),
          settings: memberSettings,
          handler: calls.count((r) =>
            Effect.zipRight(
              Effect.sync(() => keys.set(r.offset, new TextDecoder().decode(r.key!))),
              Effect.sleep(`${(r.offset * 7) % 5} millis`)
            )
          )
        })
        yield* wait(() => coverage(probe).distinct === 200, "all 200 records")
        yield* Fiber.interrupt(member.fiber)
        expect(calls.max).toBeLessThanOrEqual(8)
        expect(calls.max).toBeGreaterThan(1)
        const byKey = new Map<string, Array<Handled>>()
        for (const h of probe) byKey.set(keys.get(h.offset)!, [...(byKey.get(keys.get(h.offset)!) ?? []), h])
        expect(byKey.size).toBe(10)
        for (const calls of byKey.values()) {
          const ordered = [...calls].sort((x, y) => x.start - y.start)
          for (let i = 1; i < ordered.length; i++) {
            expect(ordered[i]!.offset).toBeGreaterThan(ordered[i - 1]!.offset)
            expect(ordered[i]!.start).toBeGreaterThanOrEqual(ordered[i - 1]!.end!)
          }
        }
        expect((yield* cluster.committed(groupId, topic)).get(0)).toBe(200)
      }))

    test("G6 unordered: in flight never exceeds the concurrency, and a window limit pauses and resumes", () =>
      Effect.gen(function* () {
        const { cluster, groupId, topic } = yield* freshTopic("g6-unordered", 1, 300)
        const probe: Array<Handled> = []
        const calls = inFlight()
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          mode: ProcessingMode.unordered({ concurrency: 16 }),
          settings: { ...memberSettings, maxWindow: 40 },
          handler: calls.count((r) => Effect.sleep(r.offset % 50 === 0 ? "150 millis" : "2 millis"))
        })
        yield* wait(() => coverage(probe).distinct === 300, "all 300 records")
        yield* Fiber.interrupt(member.fiber)
        expect(calls.max).toBeLessThanOrEqual(16)
        expect(calls.max).toBeGreaterThan(1)
        const paused = member.events.filter((e) => e._tag === "Paused").length
        const resumed = member.events.filter((e) => e._tag === "Resumed").length
        expect(paused).toBeGreaterThan(0)
        expect(resumed).toBeGreaterThanOrEqual(paused - 1)
        expect((yield* cluster.committed(groupId, topic)).get(0)).toBe(300)
      }))

    test("G9 a poison record and a record that always fails are dead-lettered with their headers, after the retries; the rest flows; the commit passes them only after the dead-letter topic acknowledged", () =>
      Effect.gen(function* () {
        const cluster = yield* TestCluster
        const topic = uniqueName("g9")
        const dlq = `${topic}.dlq`
        const groupId = uniqueName("g9-group")
        yield* cluster.createTopic(topic, 2)
        yield* cluster.createTopic(dlq, 1)
        // Partition 0: offset 10 cannot be decoded, offset 20's handler always fails.
        const records = numberedRecords(topic, 1, 60).map((r, i) => ({
          ...r,
          partition: i < 30 ? 0 : 1,
          value: i === 10 ? encoder.encode("{not json") : encoder.encode(JSON.stringify({ n: i }))
        }))
        yield* cluster.produce(records)
        const Value = Schema.Struct({ n: Schema.Number })
        const typed = Topic.make({ name: topic, key: Codec.string, value: Codec.json(Value) })
        const handled: Array<number> = []
        const attempts = new Map<number, number>()
        // The producer's acknowledgements, timed, to compare with the commits.
        const acked: Array<number> = []
        const producerDriver = yield* ProducerDriver
        const timedProducer = Producer.layer.pipe(
          Layer.provide(
            Layer.succeed(ProducerDriver, {
              ...producerDriver,
              send: (batch) => Effect.tap(producerDriver.send(batch), () => Effect.sync(() => acked.push(Date.now())))
            })
          )
        )
        const pipeline = Pipeline.make({
          topic: typed,
          handler: (record) =>
            Effect.suspend(() => {
              attempts.set(record.value.n, (attempts.get(record.value.n) ?? 0) + 1)
              if (record.value.n === 20) return Effect.fail({ _tag: "Declined" as const, message: "card declined" })
              handled.push(record.value.n)
              return Effect.void
            }),
          policy: ErrorPolicy.retry(
            Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(2))),
            ErrorPolicy.deadLetter(dlq)
          )
        })
        const consumer = yield* Consumer.make(
          yield* ConsumerSettings.make({ groupId, commitInterval: "100 millis", ...memberSettings })
        )
        const commits: Array<{ at: number; offset: number }> = []
        const scope = yield* Scope.make()
        const dequeue = yield* Scope.extend(consumer.subscribeEvents, scope)
        const pump = yield* Effect.forkDaemon(
          Effect.forever(
            Effect.map(Queue.take(dequeue), (event) => {
              if (event._tag !== "Committed") return
              for (const o of event.offsets) if (o.partition === 0) commits.push({ at: Date.now(), offset: o.offset })
            })
          )
        )
        const fiber = yield* Effect.forkDaemon(
          Pipeline.run(pipeline).pipe(Effect.provideService(Consumer.Consumer, consumer), Effect.provide(timedProducer))
        )
        yield* wait(() => handled.length === 58, "the 58 good records")
        yield* wait(() => commits.some((c) => c.offset === 30), "the commit past both dead letters")
        yield* Fiber.interrupt(fiber)
        yield* Fiber.interrupt(pump)
        yield* Scope.close(scope, Exit.void)
        expect(attempts.get(20)).toBe(3) // the first try and two retries
        const letters = yield* cluster.readAll(dlq)
        const header = (r: (typeof letters)[number], key: string) => headerString(r.headers, key)
        expect(letters.map((l) => header(l, Pipeline.deadLetterHeaders.offset))).toEqual(["10", "20"])
        for (const letter of letters) {
          expect(header(letter, Pipeline.deadLetterHeaders.topic)).toBe(topic)
          expect(header(letter, Pipeline.deadLetterHeaders.partition)).toBe("0")
        }
        expect(new TextDecoder().decode(letters[0]!.value!)).toBe("{not json")
        expect(header(letters[0]!, Pipeline.deadLetterHeaders.error)).toContain("DecodeError")
        expect(header(letters[0]!, Pipeline.deadLetterHeaders.attempts)).toBe("1")
        expect(header(letters[1]!, Pipeline.deadLetterHeaders.error)).toContain("card declined")
        expect(header(letters[1]!, Pipeline.deadLetterHeaders.attempts)).toBe("3")
        // Commits of partition 0 past offset 10 (20) come after the first (second) acknowledgement.
        expect(acked.length).toBe(2)
        for (const c of commits) {
          if (c.offset > 10) expect(c.at).toBeGreaterThanOrEqual(acked[0]!)
          if (c.offset > 20) expect(c.at).toBeGreaterThanOrEqual(acked[1]!)
        }
        const committed = yield* cluster.committed(groupId, topic)
        expect([committed.get(0), committed.get(1)]).toEqual([30, 30])
      }))

    test("G1 G4 partitionedStream: a stream per partition that ends on revocation; only the user's commits move the offsets", () =>
      Effect.gen(function* () {
        const { cluster, groupId, topic } = yield* freshTopic("pstream", 2, 200)
        // a never commits past 60: its revocation waits the (short) drain timeout for it.
        const settings = yield* ConsumerSettings.make({
          groupId,
          commitInterval: "100 millis",
          ...memberSettings,
          revocation: ConsumerSettings.drain("2 seconds")
        })
        const seen: Array<{ member: string; partition: number; offset: number }> = []
        const ended: Array<{ member: string; partition: number }> = []
        const runMember = (member: string) =>
          Effect.gen(function* () {
            const consumer = yield* Consumer.make(settings)
            return yield* Effect.forkDaemon(
              consumer.partitionedStream(Topic.make({ name: topic })).pipe(
                Stream.flatMap(
                  (partition) =>
                    partition.records.pipe(
                      Stream.tap((r) =>
                        Effect.sync(() => seen.push({ member, partition: r.record.partition, offset: r.record.offset }))
                      ),
                      // Commit only the first 60 records of each partition in this run.
                      Stream.filter((r) => r.record.offset < 60 || member === "b"),
                      Stream.map((r) => r.offset),
                      CommittableRecord.commitWithin(10, "50 millis"),
                      Stream.onEnd(
                        Effect.sync(() => ended.push({ member, partition: partition.topicPartition.partition }))
                      )
                    ),
                  { concurrency: "unbounded" }
                ),
                Stream.runDrain
              )
            )
          })
        const a = yield* runMember("a")
        yield* wait(() => seen.filter((s) => s.member === "a").length === 200, "a to see all 200 records")
        // The user's commits land a little after the records were seen (grouped by 10 or 50 ms).
        const committedByA = yield* committedWhen(groupId, topic, (c) => c.get(0) === 60 && c.get(1) === 60)
        expect([committedByA.get(0), committedByA.get(1)]).toEqual([60, 60])
        const b = yield* runMember("b")
        // One partition moves to b: a's stream of it ends (revocation), b starts at a's commit.
        yield* wait(() => ended.some((e) => e.member === "a"), "a's stream of the moved partition to end")
        yield* wait(() => seen.some((s) => s.member === "b"), "b to receive records")
        const moved = seen.find((s) => s.member === "b")!.partition
        expect(Math.min(...seen.filter((s) => s.member === "b" && s.partition === moved).map((s) => s.offset))).toBe(60)
        yield* wait(
          () => seen.filter((s) => s.member === "b" && s.partition === moved).length === 40,
          "b to see the moved partition's rest"
        )
        // b commits everything it sees: wait for its last group of commits before stopping it
        // (interrupting the user's stream drops the commits it had not made yet, by design).
        yield* committedWhen(groupId, topic, (c) => c.get(moved) === 100)
        yield* Fiber.interrupt(b)
        yield* Fiber.interrupt(a)
        const committed = yield* cluster.committed(groupId, topic)
        expect(committed.get(moved)).toBe(100)
        expect(committed.get(1 - moved)).toBe(60)
      }))
  })
}
