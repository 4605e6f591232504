/**
 * Why a consumer stopped.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import { describe, position } from "./internal/describe.js"

/**
 * A handler failed and the error policy said stop (the default until a policy is chosen).
 * Everything finished before the failing record was committed first; the failing record
 * itself was not, so a restarted consumer resumes at it.
 *
 * @since 0.1.0
 */
export class HandlerError<E> extends Data.TaggedError("HandlerError")<{
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly cause: E
  readonly message: string
}> {}

/**
 * A handler died with a defect (a thrown exception); reported like a failure, with the
 * defect as `cause`.
 *
 * @since 0.1.0
 */
export const handlerError = <E>(record: { topic: string; partition: number; offset: number }, cause: E) =>
  new HandlerError<E>({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    cause,
    message: `handler failed at ${position(record)}: ${describe(cause)}`
  })
