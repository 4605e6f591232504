/**
 * The processor of batch handlers (`Consumer.runBatch`, `Pipeline.make({ batch })`): a chunk of
 * up to `size` records of one partition at a time, in offset order, cut when it is full or
 * `within` after its first record was taken, whichever comes first. The chunk's records finish
 * together when the handler succeeded, or one by one as the handler settles them (`finished`,
 * the per-record failure path), so a commit never passes a record whose chunk has not succeeded
 * (G1).
 *
 * A chunk's records are taken from the buffer as they arrive (so that a chunk larger than the
 * buffer still fills) and count as in flight from then on. A revocation (or shutdown) while a
 * chunk is being collected drops it: its handler never started (G4). One running is drained
 * or interrupted like any handler; interrupted, its unfinished records stay unfinished.
 */
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { RawRecord } from "../../ConsumerRecord.js"
import type { SettingsError } from "../../SettingsError.js"
import type { Processor } from "../flow.js"
import * as Validate from "../validate.js"

export interface BatchOptions {
  /** Records per chunk at most. */
  readonly size: number
  /** How long a chunk waits for more records after its first one. */
  readonly within: Duration.Duration
}

/** Checks a public `{ size, within }`; `field` is where it was given, e.g. "batch". */
export const validBatch = (
  options: { readonly size: number; readonly within: Duration.DurationInput },
  field: string
): Effect.Effect<BatchOptions, SettingsError> =>
  Effect.zipWith(
    Validate.positiveInt(`${field}.size`, options?.size),
    Validate.duration(`${field}.within`, options?.within),
    (size, within) => ({ size, within })
  )

/**
 * Handles one chunk. `finished(i)` settles `records[i]` before the rest of the chunk (the
 * per-record failure path); the records not settled that way finish when the effect succeeds.
 */
export type BatchHandle<E, R> = (
  records: ReadonlyArray<RawRecord>,
  finished: (index: number) => void
) => Effect.Effect<void, E, R>

export const batch =
  <E, R>(
    options: BatchOptions,
    handle: BatchHandle<E, R>,
    /** The consumer's error for a failed chunk; `record` is its first unfinished record, where the frontier stops. */
    onFailure: (record: RawRecord, cause: Cause.Cause<E>) => unknown
  ): Processor<R> =>
  (worker, flow) =>
    Effect.suspend(() => {
      /** The chunk being collected or handled, and which of its records finished. */
      let chunk: Array<RawRecord> = []
      let done: Array<boolean> = []
      const withinMillis = Duration.toMillis(options.within)

      const take = (): void => {
        while (chunk.length < options.size) {
          const record = flow.take(worker)
          if (record === undefined) return
          chunk.push(record)
          done.push(false)
        }
      }

      /** Ends the chunk's records that did not finish (failed, interrupted, never started). */
      const abandonRest = (): void => {
        for (let i = 0; i < chunk.length; i++) if (!done[i]) flow.abandon(worker)
        chunk = []
        done = []
      }

      const finished = (index: number): void => {
        if (index < 0 || index >= chunk.length || done[index]) return
        done[index] = true
        flow.finish(worker, chunk[index]!.offset)
      }

      /** Waits for the chunk to fill, for `within` at most; `false` when the worker must stop. */
      const collect: Effect.Effect<boolean> = Effect.gen(function* () {
        const deadline = (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) + withinMillis
        while (chunk.length < options.size && worker.state === "running") {
          const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
          if (now >= deadline) break
          // Taking emptied the buffer: a partition paused by a full buffer may fetch again, or a
          // chunk larger than the buffer would never fill.
          if (flow.resumable) yield* flow.resume()
          const arrived = yield* Effect.timeoutOption(worker.waitForRecords(), deadline - now)
          if (Option.isNone(arrived)) break
          take()
        }
        return worker.state === "running"
      })

      /**
       * Handles the chunk; `false` when it failed (the worker stops). Outside the generator
       * below, so that no local of it keeps a finished chunk (and the fetch responses its
       * records' bytes are views into) while the worker waits for the next records.
       */
      const handleChunk = (): Effect.Effect<boolean, never, R> => {
        const records = chunk
        return Effect.map(Effect.exit(handle(records, finished)), (exit) => {
          if (Exit.isFailure(exit)) {
            const first = records[done.indexOf(false)] ?? records[0]!
            // Unfinished, the failed records hold the frontier: no commit passes them (G1).
            abandonRest()
            flow.fail(onFailure(first, exit.cause))
            return false
          }
          for (let i = 0; i < records.length; i++) finished(i)
          chunk = []
          done = []
          return true
        })
      }

      return Effect.gen(function* () {
        while (worker.state === "running") {
          take()
          if (chunk.length === 0) {
            yield* worker.waitForRecords()
            continue
          }
          if (!(yield* collect)) {
            // Revoked (or stopped) while collecting: the handler never started on these.
            abandonRest()
            return
          }
          if (flow.resumable) yield* flow.resume()
          if (!(yield* handleChunk())) return
        }
        abandonRest()
      }).pipe(
        // Interrupted (revocation, loss) with a chunk in hand: its unfinished records end
        // unfinished, so that nothing waits on them.
        Effect.onInterrupt(() => Effect.sync(abandonRest))
      )
    })
