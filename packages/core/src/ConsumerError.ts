/**
 * Why a consumer stopped because of a handler: it failed (`HandlerError`, with the handler's
 * typed error) or it died (`HandlerDefect`, with the defect). The two are kept apart so that
 * `HandlerError<E>.cause` is always an `E`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import { describe, position } from "./internal/describe.js"

/**
 * A handler failed and the error policy said stop (the default until a policy is chosen).
 * Everything finished before the failing record was committed first; the failing record
 * itself was not, so a restarted consumer resumes at it. `cause` is the handler's error.
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
 * A handler died: it threw, or an effect in it died (`Effect.die`, `Effect.orDie`, a failed
 * `Effect.promise`), or it was interrupted from within. Handled like a failure with the
 * `stop` policy — the consumer commits what finished before the record and stops — but
 * reported apart from `HandlerError`, with the defect (the first of the cause) in `defect`:
 * no error policy applies to a defect, as it is not an `E`.
 *
 * @since 0.2.0
 */
export class HandlerDefect extends Data.TaggedError("HandlerDefect")<{
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly defect: unknown
  readonly message: string
}> {}

/**
 * What a handler's end stops a consumer with: its failure or its defect.
 *
 * @since 0.2.0
 */
export type HandlerFailure<E> = HandlerError<E> | HandlerDefect

type Position = { readonly topic: string; readonly partition: number; readonly offset: number }

/**
 * The `HandlerError` of a handler that failed with `cause` at `record`.
 *
 * @since 0.1.0
 */
export const handlerError = <E>(record: Position, cause: E): HandlerError<E> =>
  new HandlerError<E>({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    cause,
    message: `handler failed at ${position(record)}: ${describe(cause)}`
  })

/**
 * The `HandlerDefect` of a handler that died with `defect` at `record`.
 *
 * @since 0.2.0
 */
export const handlerDefect = (record: Position, defect: unknown): HandlerDefect =>
  new HandlerDefect({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    defect,
    message: `handler died at ${position(record)}: ${describe(defect)}`
  })

/**
 * A handler's `Cause` as what it stops the consumer with: its first failure as a
 * `HandlerError`, or else (a defect, an interruption from within) a `HandlerDefect`.
 *
 * @since 0.2.0
 */
export const fromCause = <E>(record: Position, cause: Cause.Cause<E>): HandlerFailure<E> =>
  Option.match(Cause.failureOption(cause), {
    onSome: (error) => handlerError(record, error),
    onNone: () => handlerDefect(record, Cause.squash(cause))
  })
