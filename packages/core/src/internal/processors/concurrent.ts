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
 * The lanes share `waiting` and `held`; each lane's step from looking at them to changing them
 * runs without a yield, so the lanes never see each other half-way.
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type { RawRecord } from "../../ConsumerRecord.js"
import type { Processor } from "../flow.js"
import type { LaneSpans } from "../tracing.js"

/** Bytes per `String.fromCharCode` call: far below any engine's limit on arguments. */
const keyChunk = 4096

/**
 * A key's identity: its bytes as a latin1 string (one character per byte: cheap, exact, and
 * no Node `Buffer`). Null keys are independent.
 */
const keyOf = (record: RawRecord): string | undefined => {
  const key = record.key
  if (key === null) return undefined
  if (key.length <= keyChunk) return String.fromCharCode.apply(null, key as unknown as Array<number>)
  let text = ""
  for (let i = 0; i < key.length; i += keyChunk) {
    text += String.fromCharCode.apply(null, key.subarray(i, i + keyChunk) as unknown as Array<number>)
  }
  return text
}

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
        /** Records waiting for their key, per busy key (a key is busy while it has an entry). */
        const waiting = new Map<string, Array<RawRecord>>()
        let held = 0 // taken from the buffer, waiting for their key
        let failed = false
        const maxHeld = options.maxHeld

        /** The key of the record `nextRecord` returned last (computed once per record). */
        let takenKey: string | undefined
        /** The next record a lane may run now, taking from the buffer as needed. */
        const nextRecord = (): RawRecord | undefined => {
          while (held < maxHeld) {
            const record = flow.take(worker)
            if (record === undefined) return undefined
            const key = options.keyed ? keyOf(record) : undefined
            takenKey = key
            if (key === undefined) return record
            const queue = waiting.get(key)
            if (queue === undefined) {
              waiting.set(key, [])
              return record
            }
            queue.push(record)
            held++
          }
          return undefined
        }

        /**
         * `key` is free again: its next waiting record, if any, for the same lane to run
         * at once. Handing it over through `ready` would wake every idle lane for one record
         * (with 10 keys and 100 lanes, 90 wake-ups per record).
         */
        const release = (key: string | undefined): RawRecord | undefined => {
          if (key === undefined) return undefined
          const queue = waiting.get(key)
          if (queue === undefined) return undefined
          const following = queue.shift()
          if (following === undefined) {
            waiting.delete(key)
            return undefined
          }
          held--
          return following
        }

        const resume = Effect.suspend(() => flow.resume())

        // A lane is a loop of effects rather than `Effect.gen`, as in `sequential.ts` (a
        // generator step per record costs more than a no-op handler): each step returns the
        // next, and the continuations are made once per lane, not per record.
        const lane: Effect.Effect<void, never, R> = Effect.suspend(() => {
          let running = false
          /** The record this lane runs (or ran last), and its key. */
          let record: RawRecord | undefined
          let key: string | undefined
          /** The next record of `key`, handed to this lane when the record before it finished. */
          let carried: RawRecord | undefined
          const spansOfLane = spans?.()

          const onCause = (cause: Cause.Cause<E>): Effect.Effect<void> => {
            running = false
            // The record stays unfinished, so the frontier stops at it and no commit passes it.
            flow.abandon(worker)
            failed = true
            worker.wake.unsafeOpen()
            flow.fail(onFailure(record!, cause))
            spansOfLane?.leave(Exit.failCause(cause))
            return Effect.void
          }
          const onSuccess = (): Effect.Effect<void, never, R> => {
            running = false
            flow.finish(worker, record!.offset)
            carried = release(key)
            // Straight on to the next record, without a step of its own.
            spansOfLane?.leave(Exit.void)
            return next()
          }
          const run = (): Effect.Effect<void, never, R> => {
            running = true
            spansOfLane?.enter(record!)
            const handled = Effect.matchCauseEffect(handle(record!), { onFailure: onCause, onSuccess })
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
            if (record === undefined) {
              // Close, then look again: nothing can slip in between (one thread), so a record
              // that arrives after this look opens the latch for us.
              worker.wake.unsafeClose()
              record = nextRecord()
              key = takenKey
              if (record === undefined) {
                return worker.state === "running" && !failed ? Effect.zipRight(worker.wake.await, step) : step
              }
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
        for (const queue of waiting.values()) for (let i = 0; i < queue.length; i++) flow.abandon(worker)
        waiting.clear()
        held = 0
      })
    )
