/**
 * A scripted single-member driver for the engine's unit tests: the test decides when
 * partitions are assigned, revoked or lost and when records arrive, and sees every commit,
 * pause and resume. The guarantees themselves are proven by the conformance suite on the
 * simulated cluster and on a real broker; this only makes engine edge cases easy to reach.
 */
import * as Consumer from "@sluice/core/Consumer"
import { ConsumerDriver, type GroupListener, type OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import { noHeaders } from "@sluice/core/ConsumerRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as KafkaError from "@sluice/core/KafkaError"
import type { TopicPartition } from "@sluice/core/TopicPartition"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export interface FakeDriver {
  readonly listener: Deferred.Deferred<GroupListener>
  readonly commits: Array<OffsetAndMetadata>
  readonly controls: Array<{ readonly op: "pause" | "resume"; readonly tp: TopicPartition }>
  /** Fail the next `n` commits with this error. */
  failCommits: { n: number; error: KafkaError.KafkaError } | undefined
  left: boolean
}

export const record = (tp: TopicPartition, offset: number, value = `v${offset}`): RawRecord => ({
  topic: tp.topic,
  partition: tp.partition,
  offset,
  key: null,
  value: new TextEncoder().encode(value),
  headers: noHeaders,
  timestamp: 0
})

export const records = (tp: TopicPartition, from: number, count: number): Array<RawRecord> =>
  Array.from({ length: count }, (_, i) => record(tp, from + i))

export const make = Effect.gen(function* () {
  const fake: FakeDriver = {
    listener: yield* Deferred.make<GroupListener>(),
    commits: [],
    controls: [],
    failCommits: undefined,
    left: false
  }
  const driver = ConsumerDriver.of({
    name: "fake",
    subscribe: (_subscription, listener) =>
      Effect.gen(function* () {
        yield* Deferred.succeed(fake.listener, listener)
        yield* Effect.addFinalizer(() => Effect.sync(() => (fake.left = true)))
        return {
          commit: (offsets) =>
            Effect.suspend(() => {
              if (fake.failCommits !== undefined && fake.failCommits.n > 0) {
                fake.failCommits.n--
                return Effect.fail(fake.failCommits.error)
              }
              fake.commits.push(...offsets)
              return Effect.void
            }),
          pause: (tps) =>
            Effect.sync(() => {
              for (const tp of tps) fake.controls.push({ op: "pause", tp })
            }),
          resume: (tps) =>
            Effect.sync(() => {
              for (const tp of tps) fake.controls.push({ op: "resume", tp })
            }),
          memberId: Effect.succeed("fake-member"),
          failed: Effect.never
        }
      })
  })
  return { fake, layer: Layer.succeed(ConsumerDriver, driver) }
})

export const retriable = KafkaError.make({
  reason: "connection",
  operation: "commit",
  message: "blip",
  retriable: true
})

/** A partition's assignment without a committed offset. */
export const assignment = (tp: TopicPartition) => ({ topicPartition: tp, committed: undefined })

/** A consumer (group `g`, commits every 20 ms unless `input` says otherwise) on a fresh scripted driver. */
export const consumer = (input: Partial<ConsumerSettings.Input> = {}) =>
  Effect.gen(function* () {
    const { fake, layer } = yield* make
    const consumer = yield* Consumer.make(
      yield* ConsumerSettings.make({ groupId: "g", commitInterval: "20 millis", ...input })
    ).pipe(Effect.provide(layer))
    return { fake, consumer }
  })

/** Waits for `predicate` on the live clock, polling every 2 ms; dies after 5 s naming `what`. */
export const waitFor = (predicate: () => boolean, what = "condition") =>
  Effect.gen(function* () {
    for (let i = 0; i < 2500; i++) {
      if (predicate()) return
      yield* Effect.sleep("2 millis")
    }
    return yield* Effect.die(`timed out waiting for ${what}`)
  })

/** The offset of the last commit of `partition`, if any. */
export const lastCommit = (commits: ReadonlyArray<OffsetAndMetadata>, partition: number): number | undefined =>
  commits.filter((c) => c.partition === partition).at(-1)?.offset
