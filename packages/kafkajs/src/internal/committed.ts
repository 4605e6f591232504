/**
 * The group's committed offsets with their metadata, read through the admin client when a
 * join assigns partitions.
 *
 * kafkajs's consumer reads them too but keeps only the offset (`offsetManager/index.js:330-332`);
 * the metadata carries the offsets an earlier owner finished above its frontier (G7).
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
import type * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Admin } from "kafkajs"
import { toKafkaError } from "../KafkaJsError.js"

/** A committed offset of the group, keyed by `TopicPartition.key`. */
export interface Committed {
  readonly offset: number
  readonly metadata: string
}

/** The committed offsets of `partitions` (those without one are absent), retried while retriable. */
export const fetchCommitted = (
  admin: Admin,
  groupId: string,
  partitions: ReadonlyArray<TP.TopicPartition>
): Effect.Effect<Map<string, Committed>, KafkaError.KafkaError> => {
  if (partitions.length === 0) return Effect.succeed(new Map())
  const topics = [...new Set(partitions.map((tp) => tp.topic))]
  return Effect.tryPromise({
    try: () => admin.fetchOffsets({ groupId, topics }),
    catch: (error) => toKafkaError(error, "KafkaJsDriver.fetchCommitted")
  }).pipe(
    Effect.retry({
      schedule: Schedule.intersect(Schedule.exponential("200 millis"), Schedule.recurs(5)),
      while: (error) => error.retriable
    }),
    Effect.map((responses) => {
      const out = new Map<string, Committed>()
      for (const { partitions, topic } of responses) {
        for (const p of partitions) {
          const offset = Number(p.offset)
          // -1 is "none"; kafkajs may also have committed -1/-2 itself after an
          // OFFSET_OUT_OF_RANGE reset (`offsetManager/index.js:140-158`).
          if (offset >= 0) out.set(TP.key({ topic, partition: p.partition }), { offset, metadata: p.metadata ?? "" })
        }
      }
      return out
    }),
    Effect.withSpan("KafkaJsDriver.fetchCommitted", { attributes: { partitions: partitions.length } })
  )
}
