/**
 * Helpers for tests that run consumers against a cluster, on any driver: unique names, fresh
 * topics, a started group member that records every handler call and every event, waiting
 * without a clock, and the checks the conformance suite makes of what it recorded. The
 * conformance suite (`Conformance.suite`) is written with them; a driver's own tests may use
 * them too.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
 * import * as TestHelpers from "@sluice/testkit/TestHelpers"
 * import * as Effect from "effect/Effect"
 * import * as Fiber from "effect/Fiber"
 *
 * // The live clock: `eventually` polls on the host's clock, as it must on a real broker.
 * it.live("one member handles every record once", () =>
 *   Effect.gen(function* () {
 *     const { groupId, topic } = yield* TestHelpers.freshTopic("orders", 2, 100)
 *     const probe: Array<TestHelpers.Handled> = []
 *     const member = yield* TestHelpers.startMember({ name: "a", groupId, topic, probe })
 *     yield* TestHelpers.eventually(() => TestHelpers.coverage(probe).distinct === 100, "every record")
 *     yield* Fiber.interrupt(member.fiber)
 *     expect(TestHelpers.coverage(probe).duplicates).toBe(0)
 *   }).pipe(Effect.provide(MemoryKafka.layer({ seed: 1 })))
 * )
 * ```
 *
 * @since 0.2.0
 */
import { expect } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type { ConsumerEvent } from "@sluice/core/ConsumerEvent"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import type * as Health from "@sluice/core/Health"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import * as Topic from "@sluice/core/Topic"
import * as TP from "@sluice/core/TopicPartition"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { TestCluster } from "./TestCluster.js"

/**
 * One handler invocation, as a member's probe saw it.
 *
 * @since 0.2.0
 */
export interface Handled {
  readonly member: string
  readonly partition: number
  readonly offset: number
  readonly start: number
  end: number | undefined
  outcome: "ok" | "failed" | "interrupted" | undefined
}

let counter = 0

/**
 * A topic or group name unique to this process and run: tests on a shared broker never see
 * each other's state.
 *
 * @since 0.2.0
 */
export const uniqueName = (prefix: string): string =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`

const encoder = new TextEncoder()

/**
 * `count` records numbered `from`…`from + count - 1`, spread round-robin over `partitions`;
 * record `i` has key `k<i>` and value `<i>`.
 *
 * @since 0.2.0
 */
export const numberedRecords = (topic: string, partitions: number, count: number, from = 0): Array<ProducerRecord> =>
  Array.from({ length: count }, (_, i) => ({
    topic,
    partition: (from + i) % partitions,
    key: encoder.encode(`k${from + i}`),
    value: encoder.encode(String(from + i))
  }))

/**
 * A new topic of `partitions` with `records` numbered records, and a new group name: every test
 * starts from nothing.
 *
 * @since 0.2.0
 */
export const freshTopic = (prefix: string, partitions: number, records: number) =>
  Effect.gen(function* () {
    const cluster = yield* TestCluster
    const topic = uniqueName(prefix)
    yield* cluster.createTopic(topic, partitions)
    if (records > 0) yield* cluster.produce(numberedRecords(topic, partitions, records))
    return { cluster, topic, groupId: uniqueName(`${prefix}-group`) }
  })

/**
 * The group's committed offsets of `topic` once `done` holds of them, read every 100 ms, at
 * most `tries` times: the last read if it never does, for the caller's assertion to show.
 *
 * @since 0.2.0
 */
export const committedWhen = (
  groupId: string,
  topic: string,
  done: (committed: ReadonlyMap<number, number>) => boolean,
  tries = 100
) =>
  Effect.gen(function* () {
    const cluster = yield* TestCluster
    let committed: ReadonlyMap<number, number> = new Map()
    for (let i = 0; i < tries && !done(committed); i++) {
      yield* Effect.sleep("100 millis")
      committed = yield* cluster.committed(groupId, topic)
    }
    return committed
  })

/**
 * Waits until `predicate` holds, polling on the host's clock (a real broker does not follow
 * `TestClock`); dies with `what` after `patience`.
 *
 * @since 0.2.0
 */
export const eventually = (
  predicate: () => boolean,
  what: string,
  patience: Duration.DurationInput = "60 seconds"
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(patience)
    while (!predicate()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("20 millis")
    }
  })

/**
 * Polls `consumer.health(rules)` on the host's clock until `predicate` holds and returns that
 * health; dies with `what` and the last health seen after `patience`.
 *
 * @since 0.2.0
 */
export const healthWhen = (
  consumer: Consumer.ConsumerService,
  what: string,
  predicate: (health: Health.Health) => boolean,
  options: { readonly rules?: Partial<Health.Rules>; readonly patience?: Duration.DurationInput } = {}
): Effect.Effect<Health.Health> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(options.patience ?? "60 seconds")
    for (;;) {
      const health = yield* consumer.health(options.rules)
      if (predicate(health)) return health
      if (Date.now() > deadline) {
        return yield* Effect.die(new Error(`timed out waiting for ${what}: ${JSON.stringify(health)}`))
      }
      yield* Effect.sleep("10 millis")
    }
  })

/**
 * A group member under test: its consumer's fiber and every event it published.
 *
 * @since 0.2.0
 */
export interface Member {
  readonly name: string
  readonly fiber: Fiber.RuntimeFiber<never, unknown>
  readonly events: Array<ConsumerEvent>
}

/**
 * Starts a member of `groupId` handling `topic` with `handler` (which does nothing by
 * default), recording every call in `probe`. Interrupt its `fiber` to shut it down.
 *
 * @since 0.2.0
 */
export const startMember = (options: {
  readonly name: string
  readonly groupId: string
  readonly topic: string
  readonly probe: Array<Handled>
  readonly settings?: Partial<ConsumerSettings.Input>
  readonly handler?: (record: {
    partition: number
    offset: number
    key: Uint8Array | null
  }) => Effect.Effect<void, unknown, Scope.Scope>
  readonly mode?: ProcessingMode.ProcessingMode | undefined
  /** Called with every event as it is recorded, e.g. to give it a time (since 0.3.0). */
  readonly onEvent?: ((event: ConsumerEvent) => void) | undefined
}): Effect.Effect<Member, ConsumerSettings.SettingsError, ConsumerDriver> =>
  Effect.gen(function* () {
    const settings = yield* ConsumerSettings.make({
      groupId: options.groupId,
      commitInterval: "200 millis",
      ...options.settings
    })
    const consumer = yield* Consumer.make(settings)
    const events: Array<ConsumerEvent> = []
    // Subscribed before the member starts, so that no event is missed; the subscription
    // lives as long as the member.
    const eventScope = yield* Scope.make()
    const dequeue = yield* Scope.extend(consumer.subscribeEvents, eventScope)
    const eventFiber = yield* Effect.forkDaemon(
      Effect.forever(
        Effect.map(Queue.take(dequeue), (event) => {
          events.push(event)
          options.onEvent?.(event)
        })
      )
    )
    const handler = options.handler ?? (() => Effect.void)
    const fiber = yield* Effect.forkDaemon(
      consumer
        .run({
          topics: [options.topic],
          mode: options.mode,
          handler: (record) =>
            Effect.suspend(() => {
              const entry: Handled = {
                member: options.name,
                partition: record.partition,
                offset: record.offset,
                start: Date.now(),
                end: undefined,
                outcome: undefined
              }
              options.probe.push(entry)
              return Effect.scoped(handler(record)).pipe(
                Effect.onExit((exit) =>
                  Effect.sync(() => {
                    entry.end = Date.now()
                    entry.outcome = Exit.isSuccess(exit) ? "ok" : Exit.isInterrupted(exit) ? "interrupted" : "failed"
                  })
                )
              )
            })
        })
        .pipe(
          Effect.ensuring(
            // Let the last events (the shutdown's commits) reach the array first.
            Effect.zipRight(
              Effect.sleep("20 millis"),
              Effect.zipRight(Fiber.interrupt(eventFiber), Scope.close(eventScope, Exit.void))
            )
          )
        )
    )
    return { name: options.name, fiber, events }
  })

/**
 * Counts a handler's calls in flight, for checks of a concurrency bound (G6): a call counts
 * from its start until its scope closes, finalizers included.
 *
 * @since 0.2.0
 */
export interface InFlight {
  /** The most calls that ran at once so far. */
  readonly max: number
  /** `handler`, counted. */
  readonly count: <In, E>(
    handler: (record: In) => Effect.Effect<void, E, Scope.Scope>
  ) => (record: In) => Effect.Effect<void, E, Scope.Scope>
}

/**
 * A new in-flight counter.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import * as ProcessingMode from "@sluice/core/ProcessingMode"
 * import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
 * import * as TestHelpers from "@sluice/testkit/TestHelpers"
 * import * as Effect from "effect/Effect"
 * import * as Fiber from "effect/Fiber"
 *
 * // The concurrency bounds each partition: one partition here.
 * it.live("keyed mode runs at most 16 calls at once (G6)", () =>
 *   Effect.gen(function* () {
 *     const { groupId, topic } = yield* TestHelpers.freshTopic("clicks", 1, 200)
 *     const probe: Array<TestHelpers.Handled> = []
 *     const inFlight = TestHelpers.inFlight()
 *     const member = yield* TestHelpers.startMember({
 *       name: "a",
 *       groupId,
 *       topic,
 *       probe,
 *       mode: ProcessingMode.keyed({ concurrency: 16 }),
 *       handler: inFlight.count(() => Effect.sleep("2 millis"))
 *     })
 *     yield* TestHelpers.eventually(() => TestHelpers.coverage(probe).distinct === 200, "every record")
 *     yield* Fiber.interrupt(member.fiber)
 *     expect(inFlight.max).toBeLessThanOrEqual(16)
 *     expect(inFlight.max).toBeGreaterThan(1)
 *   }).pipe(Effect.provide(MemoryKafka.layer({ seed: 1 })))
 * )
 * ```
 *
 * @since 0.2.0
 */
export const inFlight = (): InFlight => {
  let current = 0
  let max = 0
  return {
    get max() {
      return max
    },
    count: (handler) => (record) =>
      Effect.zipRight(
        Effect.acquireRelease(
          Effect.sync(() => {
            max = Math.max(max, ++current)
          }),
          () => Effect.sync(() => current--)
        ),
        Effect.suspend(() => handler(record))
      )
  }
}

/**
 * Offsets handled successfully, per partition, with how many times each.
 *
 * @since 0.2.0
 */
export const handledCounts = (probe: ReadonlyArray<Handled>): Map<number, Map<number, number>> => {
  const out = new Map<number, Map<number, number>>()
  for (const h of probe) {
    if (h.outcome !== "ok") continue
    const counts = out.get(h.partition) ?? new Map<number, number>()
    counts.set(h.offset, (counts.get(h.offset) ?? 0) + 1)
    out.set(h.partition, counts)
  }
  return out
}

/**
 * Records handled successfully at least once, and the number of repeats.
 *
 * @since 0.2.0
 */
export const coverage = (probe: ReadonlyArray<Handled>): { readonly distinct: number; readonly duplicates: number } => {
  let distinct = 0
  let duplicates = 0
  for (const counts of handledCounts(probe).values()) {
    for (const n of counts.values()) {
      distinct++
      duplicates += n - 1
    }
  }
  return { distinct, duplicates }
}

/**
 * The partitions a member owns after `events`: assigned and not revoked or lost since.
 *
 * @since 0.2.0
 */
export const ownedPartitions = (events: ReadonlyArray<ConsumerEvent>): Set<number> => {
  const partitions = new Set<number>()
  for (const event of events) {
    if (event._tag === "Assigned") for (const tp of event.partitions) partitions.add(tp.partition)
    if (event._tag === "Revoked") partitions.delete(event.partition.partition)
    if (event._tag === "Lost") for (const tp of event.partitions) partitions.delete(tp.partition)
  }
  return partitions
}

/**
 * Checks G2 on a member's events: per partition, committed offsets only grow within an
 * assignment.
 *
 * @since 0.2.0
 */
export const expectMonotonicCommits = (events: ReadonlyArray<ConsumerEvent>): void => {
  const last = new Map<string, number>()
  for (const event of events) {
    if (event._tag === "Assigned") {
      // A new assignment starts a new sequence (monotonic within an assignment).
      for (const tp of event.partitions) last.delete(TP.key(tp))
    }
    if (event._tag !== "Committed") continue
    for (const o of event.offsets) {
      const key = TP.key(o)
      const previous = last.get(key)
      if (previous !== undefined) expect(o.offset).toBeGreaterThanOrEqual(previous)
      last.set(key, o.offset)
    }
  }
}

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })

/**
 * A driver's one layer at work (`KafkaJs.layer`, `MemoryKafka.layerClient`): sends 20 orders
 * (keys `k0`…`k4`) to `topic` with the `Producer`, runs a keyed pipeline over them that
 * dead-letters the order of amount 7 to `dlq` (through the same `Producer`), and stops the
 * consumer gracefully (drain, commit, leave) once the 19 others were handled. Returns the ids
 * it handled. Both topics must exist.
 *
 * @since 0.2.0
 */
export const keyedPipelineWithDeadLetters = (
  topic: string,
  dlq: string,
  patience: Duration.DurationInput = "60 seconds"
): Effect.Effect<ReadonlyArray<string>, unknown, Consumer.Consumer | Producer.Producer> =>
  Effect.gen(function* () {
    const orders = Topic.make({ name: topic, key: Codec.string, value: Codec.json(Order) })
    const producer = yield* Producer.Producer
    yield* producer.send(
      orders,
      Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 5}`, value: { id: `o${i}`, amount: i } }))
    )
    const handled: Array<string> = []
    const pipeline = Pipeline.make({
      topic: orders,
      mode: ProcessingMode.keyed({ concurrency: 4 }),
      handler: (record: Topic.RecordOf<typeof orders>) =>
        record.value.amount === 7 ? Effect.fail("declined" as const) : Effect.sync(() => handled.push(record.value.id)),
      policy: ErrorPolicy.deadLetter(dlq)
    })
    const fiber = yield* Effect.fork(Pipeline.run(pipeline))
    yield* eventually(() => handled.length === 19, "the 19 good orders", patience)
    yield* Fiber.interrupt(fiber)
    return handled
  })
