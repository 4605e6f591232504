/**
 * The group's committed offsets with their metadata, read when a rebalance assigns partitions:
 * the engine starts there, and the metadata carries the offsets an earlier owner finished
 * above its frontier (G7).
 *
 * The client appends a NUL byte to the metadata it commits (`src/common.cc:593-600`) and drops
 * the last byte of the metadata it reads (`src/common.cc:379-384`), so metadata round-trips
 * through this driver. Metadata another client committed (the kafkajs driver) loses its last
 * character here and fails to decode, which the engine treats as "nothing finished above the
 * frontier": the records are handled again, never skipped.
 */
import type * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { toKafkaError } from "../ConfluentError.js"
import type { NativeConsumer, NativeTopicPartition } from "./native.js"

/** A committed offset of the group, keyed by `TopicPartition.key`. */
export interface Committed {
  readonly offset: number
  readonly metadata: string
}

/** The committed offsets of `partitions` (those without one are absent), retried while retriable. */
export const fetchCommitted = (
  consumer: NativeConsumer,
  partitions: ReadonlyArray<TP.TopicPartition>,
  timeout: Duration.Duration
): Effect.Effect<Map<string, Committed>, KafkaError.KafkaError> => {
  if (partitions.length === 0) return Effect.succeed(new Map())
  const request = partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition }))
  return Effect.async<ReadonlyArray<NativeTopicPartition | Error>, KafkaError.KafkaError>((resume) => {
    try {
      consumer.committed(request, Duration.toMillis(timeout), (error, answer) => {
        if (error) resume(Effect.fail(toKafkaError(error, "ConfluentDriver.fetchCommitted")))
        else resume(Effect.succeed(answer))
      })
    } catch (error) {
      resume(Effect.fail(toKafkaError(error, "ConfluentDriver.fetchCommitted")))
    }
  }).pipe(
    Effect.flatMap((answer) => {
      const out = new Map<string, Committed>()
      for (const entry of answer) {
        // A partition's own error comes as an Error in its place (`src/common.cc:364-367`).
        if (entry instanceof Error) return Effect.fail(toKafkaError(entry, "ConfluentDriver.fetchCommitted"))
        // Without a committed offset the client leaves `offset` out (OFFSET_INVALID).
        if (entry.offset !== undefined && entry.offset >= 0) {
          out.set(TP.key(entry), { offset: entry.offset, metadata: entry.metadata ?? "" })
        }
      }
      return Effect.succeed(out)
    }),
    Effect.retry({
      schedule: Schedule.intersect(Schedule.exponential("200 millis"), Schedule.recurs(5)),
      while: (error) => error.retriable
    }),
    Effect.withSpan("ConfluentDriver.fetchCommitted", { attributes: { partitions: partitions.length } })
  )
}
