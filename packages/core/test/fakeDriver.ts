/**
 * A scripted single-member driver for the engine's unit tests: the test decides when
 * partitions are assigned, revoked or lost and when records arrive, and sees every commit,
 * pause and resume. The guarantees themselves are proven by the conformance suite on the
 * simulated cluster and on a real broker; this only makes engine edge cases easy to reach.
 */
import { ConsumerDriver, type GroupListener, type OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import { noHeaders } from "@sluice/core/ConsumerRecord"
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
