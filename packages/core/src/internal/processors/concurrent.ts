/**
 * The processor of the `keyed` and `unordered` modes: up to `concurrency` records of one
 * partition in flight (G6); in `keyed` mode a record waits while an earlier record of its key
 * is in flight, so each key runs in offset order (G5).
 *
 * `concurrency` long-lived lanes (fibers) pull the next runnable record, rather than a fiber
 * per record: forking costs more than a no-op handler, and the lanes keep the garbage down.
 * The lanes are forked in the worker's scope: interrupting the worker (a revocation)
 * interrupts them and waits for their finalizers (G4).
 *
 * The lanes share `busy` and `held`; each lane's step from looking at them to changing them
 * runs without a yield, so the lanes never see each other half-way.
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scheduler from "effect/Scheduler"
import type { RawRecord } from "../../ConsumerRecord.js"
import type { Processor } from "../flow.js"
import type { LaneSpans } from "../tracing.js"
import { type BusyKey, BusyKeys, hashOf } from "./busyKeys.js"

export interface ConcurrentOptions {
  readonly concurrency: number
  readonly keyed: boolean
  /**
   * How many records taken from the buffer may wait for their key: past this, the lanes stop
   * taking and the buffer (then the partition) backs up instead.
   */
  readonly maxHeld: number
}

export const concurrent =
  <E, R>(
    options: ConcurrentOptions,
    handle: (record: RawRecord) => Effect.Effect<void, E, R>,
    onFailure: (record: RawRecord, cause: Cause.Cause<E>) => unknown,
    /** Each record's span (O1), when a tracer exports them. */
    spans?: () => LaneSpans
  ): Processor<R> =>
  (worker, flow) =>
    Effect.scoped(
      Effect.gen(function* () {
        /** The keys with a record in flight, and the records waiting for them (keyed mode). */
        const busy = new BusyKeys()
        let held = 0 // taken from the buffer, waiting for their key
        let failed = false
        const maxHeld = options.maxHeld

        /** The busy key of the record `nextRecord` returned last (null keys are independent). */
        let takenKey: BusyKey | undefined
        /** The next record a lane may run now, taking from the buffer as needed. */
        const nextRecord = (): RawRecord | undefined => {
          while (held < maxHeld) {
            const record = flow.take(worker)
            if (record === undefined) return undefined
            const bytes = options.keyed ? record.key : null
            if (bytes === null) {
              takenKey = undefined
              return record
            }
            const hash = hashOf(bytes)
            const key = busy.entry(bytes, hash)
            if (key === undefined || !key.busy) {
              takenKey = busy.add(bytes, hash, key)
              return record
            }
            if (key.waiting === undefined) key.waiting = [record]
            else key.waiting.push(record)
            held++
          }
          return undefined
        }

        /**
         * `key` is free again: its next waiting record, if any, for the same lane to run
         * at once. Handing it over through `ready` would wake every idle lane for one record
         * (with 10 keys and 100 lanes, 90 wake-ups per record).
         */
        const release = (key: BusyKey | undefined): RawRecord | undefined => {
          if (key === undefined) return undefined
          const following = key.waiting?.shift()
          if (following === undefined) {
            busy.remove(key)
            return undefined
          }
          held--
          return following
        }

        const resume = Effect.suspend(() => flow.resume())
        /** Whether a parked lane would find a record to take. */
        const takeable = () => worker.buffer.length > 0 && held < maxHeld && worker.state === "running" && !failed
        const scheduler = yield* Effect.withFiberRuntime<Scheduler.Scheduler>((fiber) =>
          Effect.succeed(fiber.currentScheduler)
        )
        /** What an idle lane waits on: a record it may take, or the worker stopping. */
        const park = worker.wake.parker(
          () => (worker.buffer.length > 0 && held < maxHeld) || worker.state !== "running" || failed
        )

        // A lane is a loop of effects rather than `Effect.gen`, as in `sequential.ts` (a
        // generator step per record costs more than a no-op handler): each step returns the
        // next, and the continuations are made once per lane, not per record.
        const lane: Effect.Effect<void, never, R> = Effect.suspend(() => {
          let running = false
          /** The record this lane runs (or ran last), and its key. */
          let record: RawRecord | undefined
          let key: BusyKey | undefined
          /** The next record of `key`, handed to this lane when the record before it finished. */
          let carried: RawRecord | undefined
          /**
           * When the lane's last record ended, while `onSuccess` looks for the next one in the same
           * synchronous step: that record's span starts then, without another clock read.
           */
          let endedAt: bigint | undefined
          const spansOfLane = spans?.()

          const onCause = (cause: Cause.Cause<E>): Effect.Effect<void> => {
            running = false
            // The record stays unfinished, so the frontier stops at it and no commit passes it.
            flow.abandon(worker)
            failed = true
            worker.wake.wakeAll()
            flow.fail(onFailure(record!, cause))
            spansOfLane?.leave(Exit.failCause(cause))
            return Effect.void
          }
          const onSuccess = (): Effect.Effect<void, never, R> => {
            running = false
            flow.finish(worker, record!.offset)
            carried = release(key)
            // Straight on to the next record, without a step of its own.
            endedAt = spansOfLane?.leave(Exit.void)
            const step = next()
            endedAt = undefined
            return step
          }
          /** Made once: an object per record for the same two functions was garbage. */
          const settle = { onFailure: onCause, onSuccess }
          const run = (): Effect.Effect<void, never, R> => {
            running = true
            spansOfLane?.enter(record!, endedAt)
            const handled = Effect.matchCauseEffect(handle(record!), settle)
            return flow.resumable ? Effect.zipRight(resume, handled) : handled
          }
          /** The next step: a record to run, a wait for records, or the end. */
          const next = (): Effect.Effect<void, never, R> => {
            if (worker.state !== "running" || failed) {
              // Stopped with the next record of a key in hand: it never started, drop it.
              if (carried !== undefined) {
                carried = undefined
                flow.abandon(worker)
              }
              return Effect.void
            }
            if (carried !== undefined) {
              record = carried
              carried = undefined
              return run()
            }
            record = nextRecord()
            key = takenKey
            // More records wait: wake one more lane to take the next (it wakes the one after, as
            // long as records remain). A delivery wakes a single lane: with handlers that finish
            // at once, one lane runs a whole delivery and more would wake to find nothing.
            if (record !== undefined && worker.buffer.length > 0 && held < maxHeld) {
              worker.wake.arrivedSoon(scheduler, takeable)
            }
            if (record === undefined) {
              // Park until records arrive (or the worker stops); `park` looks again at the
              // moment it parks, so a record that arrives in between is not missed.
              return worker.state === "running" && !failed ? Effect.zipRight(park, step) : step
            }
            return run()
          }
          const step: Effect.Effect<void, never, R> = Effect.suspend(next)
          return (spansOfLane === undefined ? step : spansOfLane.install(step)).pipe(
            // Interrupted (revocation, loss) with a record in flight: it ends unfinished, so that
            // nothing waits on it. Once per lane, not per record: `onInterrupt` costs more than a
            // no-op handler.
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                if (running) flow.abandon(worker)
                spansOfLane?.interrupted()
              })
            )
          )
        })

        const lanes = yield* Effect.forEach(Array.from({ length: options.concurrency }), () => Effect.forkScoped(lane))
        yield* Fiber.joinAll(lanes)
        // Revoking (or stopped by a failure): records still waiting never started; they are
        // dropped like the buffer.
        for (let waiting = busy.clear(); waiting > 0; waiting--) flow.abandon(worker)
        held = 0
      })
    )
