/**
 * A probe around a handler: it records when each call started and ended, on which member
 * and how it ended, so a test can count duplicates (G7), check order (G5), bound concurrency
 * (G6) and wait for progress without sleeping.
 *
 * On the simulated cluster the probe names the member that owned the record's partition
 * when the call started (the coordinator's view); elsewhere `memberId` is undefined.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import * as Pipeline from "@sluice/core/Pipeline"
 * import * as ProcessingMode from "@sluice/core/ProcessingMode"
 * import * as Topic from "@sluice/core/Topic"
 * import * as HandlerProbe from "@sluice/testkit/HandlerProbe"
 * import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
 * import * as TestHelpers from "@sluice/testkit/TestHelpers"
 * import * as Effect from "effect/Effect"
 * import * as Fiber from "effect/Fiber"
 *
 * const orders = Topic.make({ name: "orders" })
 *
 * it.live("keyed mode handles every record once, in order per key", () =>
 *   Effect.gen(function* () {
 *     const kafka = yield* MemoryKafka.MemoryKafka
 *     yield* kafka.createTopic("orders", 2)
 *     yield* kafka.produce(TestHelpers.numberedRecords("orders", 2, 100))
 *     const probe = yield* HandlerProbe.make({ groupId: "billing" })
 *     const billing = Pipeline.make({
 *       topic: orders,
 *       mode: ProcessingMode.keyed({ concurrency: 8 }),
 *       handler: probe.wrap((_: Topic.RecordOf<typeof orders>) => Effect.sleep("1 millis"))
 *     })
 *     const fiber = yield* Effect.fork(Pipeline.run(billing))
 *     yield* probe.awaitSucceeded(100)
 *     yield* Fiber.interrupt(fiber)
 *     expect(yield* probe.duplicates).toEqual([])
 *     expect(yield* probe.orderViolations("key")).toEqual([])
 *   }).pipe(Effect.provide(MemoryKafka.layerClient({ groupId: "billing" })))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as TP from "@sluice/core/TopicPartition"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { RecordLike } from "./HandlerFaults.js"
import { Notifier } from "./internal/memory/signal.js"
import { MemoryKafka } from "./MemoryKafka.js"

/**
 * How a call ended: `success`, `failure` (a typed error), `defect`, `interrupted`, or
 * `running` while it has not.
 *
 * @since 0.1.0
 */
export type Outcome = "running" | "success" | "failure" | "defect" | "interrupted"

/**
 * One handler call. `startSeq`/`endSeq` order starts and ends of all calls of the probe
 * (times are equal under `TestClock` unless the test moves it).
 *
 * @since 0.1.0
 */
export interface ProbeEntry {
  readonly memberId: string | undefined
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** The record's key as a string (UTF-8 of bytes), for per-key order checks. */
  readonly key: string | undefined
  readonly startSeq: number
  readonly startedAt: number
  readonly endSeq: number | undefined
  readonly endedAt: number | undefined
  readonly outcome: Outcome
}

/**
 * A record that more than one call handled successfully.
 *
 * @since 0.1.0
 */
export interface Duplicate {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** How many calls for this record succeeded. */
  readonly count: number
}

/**
 * A call that started while a call for an earlier offset of the same partition (or key)
 * was still running.
 *
 * @since 0.1.0
 */
export interface OrderViolation {
  readonly earlier: ProbeEntry
  readonly later: ProbeEntry
}

/**
 * A probe: `wrap` observes a handler; the rest reads and awaits what the calls did.
 *
 * @since 0.1.0
 */
export interface HandlerProbe {
  /** The handler, observed. Wrap once and use the result for every record. */
  readonly wrap: <In extends RecordLike, A, E, R>(
    handler: (record: In) => Effect.Effect<A, E, R>
  ) => (record: In) => Effect.Effect<A, E, R>
  /** Every call so far, in start order. */
  readonly entries: Effect.Effect<ReadonlyArray<ProbeEntry>>
  readonly inFlight: Effect.Effect<number>
  /** The most calls that ever ran at once. */
  readonly maxInFlight: Effect.Effect<number>
  /** Distinct records with at least one successful call. */
  readonly succeeded: Effect.Effect<number>
  /** Records with more than one successful call. */
  readonly duplicates: Effect.Effect<ReadonlyArray<Duplicate>>
  /** Order violations per partition (`partition` mode) or per key (`keyed` mode). */
  readonly orderViolations: (by?: "partition" | "key") => Effect.Effect<ReadonlyArray<OrderViolation>>
  /** Waits until `count` distinct records succeeded. */
  readonly awaitSucceeded: (count: number) => Effect.Effect<void>
  /** Waits until `predicate` holds of the entries (checked after every start and end). */
  readonly awaitEntries: (predicate: (entries: ReadonlyArray<ProbeEntry>) => boolean) => Effect.Effect<void>
  readonly reset: Effect.Effect<void>
}

type MutableEntry = { -readonly [K in keyof ProbeEntry]: ProbeEntry[K] }

const decoder = new TextDecoder()

const keyOf = (record: RecordLike): string | undefined => {
  const key = (record as { readonly key?: unknown }).key
  if (key === undefined || key === null) return undefined
  if (key instanceof Uint8Array) return decoder.decode(key)
  return typeof key === "string" ? key : JSON.stringify(key)
}

/**
 * A new probe. `groupId` picks the group whose ownership names the member (on the simulated
 * cluster; any group owning the partition when omitted).
 *
 * @since 0.1.0
 */
export const make = (options: { readonly groupId?: string | undefined } = {}): Effect.Effect<HandlerProbe> =>
  Effect.map(Effect.serviceOption(MemoryKafka), (cluster) => {
    let entries: Array<MutableEntry> = []
    let successes = new Map<string, number>()
    let inFlight = 0
    let maxInFlight = 0
    let seq = 0
    const changed = new Notifier()

    const memberOf = (record: RecordLike): Effect.Effect<string | undefined> =>
      Option.isNone(cluster)
        ? Effect.succeed(undefined)
        : cluster.value.ownerOf(record.topic, record.partition, options.groupId)

    const wrap =
      <In extends RecordLike, A, E, R>(handler: (record: In) => Effect.Effect<A, E, R>) =>
      (record: In): Effect.Effect<A, E, R> =>
        Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            const memberId = yield* memberOf(record)
            const entry: MutableEntry = {
              memberId,
              topic: record.topic,
              partition: record.partition,
              offset: record.offset,
              key: keyOf(record),
              startSeq: ++seq,
              startedAt: yield* Clock.currentTimeMillis,
              endSeq: undefined,
              endedAt: undefined,
              outcome: "running"
            }
            entries.push(entry)
            if (++inFlight > maxInFlight) maxInFlight = inFlight
            changed.notify()
            const exit = yield* Effect.exit(restore(handler(record)))
            entry.endedAt = yield* Clock.currentTimeMillis
            entry.endSeq = ++seq
            inFlight--
            if (Exit.isSuccess(exit)) {
              entry.outcome = "success"
              const k = `${TP.key(record)}|${record.offset}`
              successes.set(k, (successes.get(k) ?? 0) + 1)
            } else {
              entry.outcome = Cause.isInterruptedOnly(exit.cause)
                ? "interrupted"
                : Option.isSome(Cause.failureOption(exit.cause))
                  ? "failure"
                  : "defect"
            }
            changed.notify()
            return yield* exit
          })
        )

    const orderViolations = (by: "partition" | "key" = "partition") =>
      Effect.sync(() => {
        const violations: Array<OrderViolation> = []
        const running = new Map<string, Set<MutableEntry>>()
        const group = (e: MutableEntry) => (by === "partition" ? TP.key(e) : `${TP.key(e)}|${e.key ?? ""}`)
        const events: Array<{ readonly seq: number; readonly entry: MutableEntry; readonly start: boolean }> = []
        for (const entry of entries) {
          events.push({ seq: entry.startSeq, entry, start: true })
          if (entry.endSeq !== undefined) events.push({ seq: entry.endSeq, entry, start: false })
        }
        events.sort((a, b) => a.seq - b.seq)
        for (const { entry, start } of events) {
          const key = group(entry)
          const set = running.get(key) ?? new Set<MutableEntry>()
          running.set(key, set)
          if (!start) {
            set.delete(entry)
            continue
          }
          for (const other of set) {
            if (other.offset < entry.offset) violations.push({ earlier: { ...other }, later: { ...entry } })
          }
          set.add(entry)
        }
        return violations
      })

    const probe: HandlerProbe = {
      wrap,
      entries: Effect.sync(() => entries.map((e) => ({ ...e }))),
      inFlight: Effect.sync(() => inFlight),
      maxInFlight: Effect.sync(() => maxInFlight),
      succeeded: Effect.sync(() => successes.size),
      duplicates: Effect.sync(() => {
        const out: Array<Duplicate> = []
        for (const [key, count] of successes) {
          if (count < 2) continue
          const [topic, partition, offset] = key.split("|")
          out.push({ topic: topic!, partition: Number(partition), offset: Number(offset), count })
        }
        return out
      }),
      orderViolations,
      awaitSucceeded: (count) => changed.until(() => (successes.size >= count ? true : undefined)),
      awaitEntries: (predicate) => changed.until(() => (predicate(entries) ? true : undefined)),
      reset: Effect.sync(() => {
        entries = []
        successes = new Map()
        maxInFlight = inFlight
        changed.notify()
      })
    }
    return probe
  })
