/**
 * The processor of `partition` mode: one record at a time, in offset order (G5). The record
 * after n is taken only once n's handler ended.
 *
 * This is the hot path: nothing is allocated per record but what the handler allocates (one
 * failure handler per worker, one interruption handler per worker).
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { RawRecord } from "../../ConsumerRecord.js"
import type { Processor } from "../flow.js"

export const sequential =
  <E, R>(
    handle: (record: RawRecord) => Effect.Effect<void, E, R>,
    onFailure: (record: RawRecord, cause: Cause.Cause<E>) => unknown
  ): Processor<R> =>
  (worker, flow) =>
    Effect.gen(function* () {
      let current: RawRecord | undefined
      let failed = false
      const onCause = (cause: Cause.Cause<E>) =>
        Effect.sync(() => {
          // The record stays unfinished, so the frontier stops at it and no commit passes it.
          failed = true
          flow.abandon(worker)
          flow.fail(onFailure(current!, cause))
        })
      while (worker.state === "running") {
        const record = flow.take(worker)
        if (record === undefined) {
          yield* worker.waitForRecords()
          continue
        }
        if (flow.anyPaused) yield* flow.resume()
        current = record
        yield* Effect.catchAllCause(handle(record), onCause)
        if (failed) return
        flow.finish(worker, record.offset)
      }
    }).pipe(
      // Interrupted (revocation, loss) with a record in flight: it ends unfinished, so that
      // nothing waits on it. Once per worker, not per record: `onInterrupt` costs more than a
      // no-op handler.
      Effect.onInterrupt(() => Effect.sync(() => worker.inFlight > 0 && flow.abandon(worker)))
    )
