/**
 * The processor of the `keyed` and `unordered` modes: up to `concurrency` records of one
 * partition in flight, each in its own fiber; in `keyed` mode a record waits while an earlier
 * record of its key is in flight, so each key runs in offset order.
 *
 * The record fibers live in a `FiberSet` scoped to the worker: interrupting the worker (a
 * revocation) interrupts them all and waits for their finalizers (G4).
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import type { RawRecord } from "../ConsumerRecord.js"
import type { Engine, Processor, Worker } from "./engine.js"

/** A key's identity: its bytes as a latin1 string (cheap, exact). Null keys are independent. */
const keyOf = (record: RawRecord): string | undefined =>
  record.key === null
    ? undefined
    : Buffer.from(record.key.buffer, record.key.byteOffset, record.key.length).toString("latin1")

export const concurrentProcessor =
  <E, R>(
    engine: () => Engine<R>,
    options: { readonly concurrency: number; readonly keyed: boolean },
    handle: (record: RawRecord) => Effect.Effect<void, E, R>,
    onFailure: (record: RawRecord, cause: Cause.Cause<E>) => unknown
  ): Processor<R> =>
  (worker: Worker) =>
    Effect.scoped(
      Effect.gen(function* () {
        const self = engine()
        const fibers = yield* FiberSet.make<void, never>()
        const run = yield* FiberSet.runtime(fibers)<R>()
        /** Records waiting for their key, per busy key (a key is busy while it has an entry). */
        const waiting = new Map<string, Array<RawRecord>>()
        let running = 0
        let held = 0 // taken from the buffer and waiting for their key
        let failed = false
        // Holding records for busy keys is bounded too: past this, the loop stops taking and
        // the buffer (then the partition) backs up instead.
        const maxHeld = Math.max(options.concurrency * 4, self.settings.buffer.perPartition)

        const start = (record: RawRecord): void => {
          running++
          run(
            Effect.flatMap(Effect.exit(handle(record)), (exit) =>
              Effect.suspend(() => {
                running--
                if (Exit.isSuccess(exit)) {
                  worker.finish(self, record.offset)
                } else {
                  worker.abandon()
                  failed = true
                  self.fail(onFailure(record, exit.cause))
                }
                if (options.keyed && !failed) next(record)
                worker.wake.unsafeOpen()
                return self.pausedWorkers.size > 0 ? self.maybeResume() : Effect.void
              })
            )
          )
        }

        /** The key of `done` is free again: start its next waiting record, if any. */
        const next = (done: RawRecord): void => {
          const key = keyOf(done)
          if (key === undefined) return
          const queue = waiting.get(key)
          if (queue === undefined) return
          const following = queue.shift()
          if (following === undefined) {
            waiting.delete(key)
            return
          }
          held--
          if (worker.state === "running") start(following)
          else worker.abandon()
        }

        const dispatch = (record: RawRecord): void => {
          const key = options.keyed ? keyOf(record) : undefined
          if (key === undefined) {
            start(record)
            return
          }
          const queue = waiting.get(key)
          if (queue === undefined) {
            waiting.set(key, [])
            start(record)
          } else {
            queue.push(record)
            held++
          }
        }

        while (worker.state === "running" && !failed) {
          if (running < options.concurrency && held < maxHeld) {
            const record = worker.take(self)
            if (record !== undefined) {
              dispatch(record)
              if (self.pausedWorkers.size > 0) yield* self.maybeResume()
              continue
            }
          }
          worker.wake.unsafeClose()
          const canTake = running < options.concurrency && held < maxHeld
          if (worker.state === "running" && !failed && !(canTake && worker.buffer.length > 0)) {
            yield* worker.wake.await
          }
        }
        // Revoking (or stopped by a failure): records waiting for their key never started;
        // they are dropped like the buffer. What runs finishes (drain) or is interrupted.
        for (const queue of waiting.values()) {
          for (let i = 0; i < queue.length; i++) worker.abandon()
        }
        waiting.clear()
        held = 0
        yield* worker.idle.await
      })
    )
