/**
 * The processor of `Consumer.runBatch`: the user's batch handler on chunks of raw records. A
 * chunk's failure stops the consumer with a `HandlerError` (or `HandlerDefect`) naming the
 * chunk's first record; the chunk stays unfinished, so no commit passes it (G1).
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type { RunBatchOptions } from "../../Consumer.js"
import { fromCause } from "../../ConsumerError.js"
import * as ConsumerRecord from "../../ConsumerRecord.js"
import type { SettingsError } from "../../SettingsError.js"
import type { Processor } from "../flow.js"
import * as Tracing from "../tracing.js"
import * as Validate from "../validate.js"
import { batch, validBatch } from "./batch.js"

/** Checks the run's topics, group, handler and batch, then builds the processor. */
export const batchProcessor = <E, R>(
  options: RunBatchOptions<E, R>,
  groupId: string
): Effect.Effect<Processor<R>, SettingsError> =>
  Effect.gen(function* () {
    yield* Validate.topicNames("topics", options.topics)
    if (options.groupId !== undefined) yield* Validate.name("groupId", options.groupId)
    yield* Validate.isFunction("handler", options.handler)
    const limits = yield* validBatch(options.batch, "batch")
    return batch<E, R>(
      limits,
      (records) =>
        Tracing.chunkSpanIfExporting(
          records,
          options.groupId ?? groupId,
          options.handler(Chunk.unsafeFromArray(records.map(ConsumerRecord.fromRaw)))
        ),
      (record, cause) => fromCause(record, cause)
    )
  })
