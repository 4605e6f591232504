/**
 * The processor of `partition` mode: one record at a time, in offset order (G5). The record
 * after n is taken only once n's handler ended.
 *
 * This is the hot path, written as a loop of effects rather than `Effect.gen`: a generator
 * step costs an iterator, a wrapper and a resumption per `yield*`, a fifth of the engine's
 * time per record with a no-op handler (bench workload 2). Per record the loop allocates one
 * `matchCauseEffect` and nothing else but what the handler allocates; `loop`, `onSuccess`
 * and `onCause` are made once per worker.
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { RawRecord } from "../../ConsumerRecord.js"
import type { Processor } from "../flow.js"
import type { LaneSpans } from "../tracing.js"

export const sequential =
  <E, R>(
    handle: (record: RawRecord) => Effect.Effect<void, E, R>,
    onFailure: (record: RawRecord, cause: Cause.Cause<E>) => unknown,
    /** Each record's span (O1), when a tracer exports them. */
    spans?: () => LaneSpans
  ): Processor<R> =>
  (worker, flow) => {
    /** The record in flight (none between records): the continuations read it instead of closing over it. */
    let current: RawRecord | undefined
    const lane = spans?.()
    const onCause = (cause: Cause.Cause<E>): Effect.Effect<void> => {
      // The record stays unfinished, so the frontier stops at it and no commit passes it; the
      // loop ends here (the consumer stops).
      flow.abandon(worker)
      flow.fail(onFailure(current!, cause))
      lane?.leave(Exit.failCause(cause))
      return Effect.void
    }
    const resume = Effect.suspend(() => flow.resume())
    /**
     * The next step: the next record's handler, a wait for records, or the end. `endedAt`: when
     * the record before ended, if it ended in this same synchronous step (its span's end time).
     */
    const next = (endedAt?: bigint): Effect.Effect<void, never, R> => {
      if (worker.state !== "running") return Effect.void
      const record = flow.take(worker)
      if (record === undefined) return Effect.zipRight(worker.waitForRecords(), loop)
      current = record
      lane?.enter(record, endedAt)
      const run = Effect.matchCauseEffect(handle(record), settle)
      return flow.resumable ? Effect.zipRight(resume, run) : run
    }
    // A success goes straight on to the next record, without a step of its own: each step
    // returns the next one, and the runtime runs it on the same fiber without growing the
    // stack, until a step waits for records or the worker stops running.
    const onSuccess = (): Effect.Effect<void, never, R> => {
      flow.finish(worker, current!.offset)
      // Let go of it: a worker waiting for records would keep it, and with it the whole fetch
      // response its bytes are a view of (kafkajs: up to `maxBytes`), alive until its next record.
      current = undefined
      return next(lane?.leave(Exit.void))
    }
    /** Made once: an object per record for the same two functions was garbage. */
    const settle = { onFailure: onCause, onSuccess }
    const loop: Effect.Effect<void, never, R> = Effect.suspend(() => next())
    return (lane === undefined ? loop : lane.install(loop)).pipe(
      // Interrupted (revocation, loss) with a record in flight: it ends unfinished, so that
      // nothing waits on it. Once per worker, not per record: `onInterrupt` costs more than a
      // no-op handler.
      Effect.onInterrupt(() =>
        Effect.sync(() => {
          if (worker.inFlight > 0) flow.abandon(worker)
          lane?.interrupted()
        })
      )
    )
  }
