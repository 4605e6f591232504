/**
 * The processor of `Consumer.run`: the user's handler on each record, in the processing mode
 * asked for. A handler's failure (or defect) stops the consumer with a `HandlerError` naming
 * the record; the record itself stays unfinished, so no commit passes it (G1).
 */
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { handlerError } from "../../ConsumerError.js"
import * as ConsumerRecord from "../../ConsumerRecord.js"
import type { ConsumerSettings } from "../../ConsumerSettings.js"
import * as ProcessingMode from "../../ProcessingMode.js"
import type { Processor } from "../flow.js"
import { concurrent } from "./concurrent.js"
import { sequential } from "./sequential.js"

/** The error of a failure, or the defect (or interruption) squashed into one value. */
const squashCause = <E>(cause: Cause.Cause<E>): unknown =>
  Option.getOrElse(Cause.failureOption(cause), () => Cause.squash(cause))

export const handlerProcessor = <E, R>(
  settings: ConsumerSettings,
  mode: ProcessingMode.ProcessingMode | undefined,
  handler: (record: ConsumerRecord.ConsumerRecord) => Effect.Effect<void, E, R>
): Processor<R> => {
  const handle = (raw: ConsumerRecord.RawRecord) => handler(ConsumerRecord.fromRaw(raw))
  const onFailure = (record: ConsumerRecord.RawRecord, cause: Cause.Cause<E>) =>
    handlerError(record, squashCause(cause) as E)
  const chosen = mode ?? ProcessingMode.partition
  if (chosen._tag === "partition") return sequential<E, R>(handle, onFailure)
  return concurrent<E, R>(
    {
      concurrency: chosen.concurrency,
      keyed: chosen._tag === "keyed",
      maxHeld: Math.max(chosen.concurrency * 4, settings.buffer.perPartition)
    },
    handle,
    onFailure
  )
}
