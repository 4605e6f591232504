/**
 * What the fibers of a worker's processor park on while they have no record to run: records
 * arriving, or the worker stopping (revoked, lost, failed).
 *
 * A delivery wakes one parked fiber, and a keyed or unordered lane that takes a record wakes
 * one more while records remain (`processors/concurrent.ts`): the lanes woken follow the records
 * actually waiting. A latch, opened for every delivery, woke every parked lane of the partition
 * (up to its concurrency, 100 in the benchmarks): with handlers that finish at once, the first
 * lane ran the whole delivery and the others woke to find nothing and parked again.
 *
 * No wake-up is lost: a fiber parks only if its own `ready` test fails at the moment it parks
 * (the test and the parking run in one step of that fiber), and a delivery wakes the fibers
 * parked by then. A wake-up no fiber needed (another took the record first) costs one look and
 * one more park.
 */
import * as Effect from "effect/Effect"
import type * as Scheduler from "effect/Scheduler"

type Resume = (effect: Effect.Effect<void>) => void

export class Arrivals {
  /** The parked fibers, the most recent last: woken last in, first out, so the warmest run. */
  private parked: Array<Resume> = []

  /**
   * An effect that returns once `ready()` holds, parking until a wake-up otherwise (and then
   * returning, whether or not `ready()` holds: the caller looks again). Made once per reader.
   */
  parker(ready: () => boolean): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (ready()) return resume(Effect.void)
      this.parked.push(resume)
      // Interrupted while parked (a batch's deadline, a revocation): it must not be woken for
      // a record it can no longer take.
      return Effect.sync(() => {
        const at = this.parked.indexOf(resume)
        if (at >= 0) this.parked.splice(at, 1)
      })
    })
  }

  /** Wakes up to `count` parked fibers (records arrived, or one more lane is wanted). */
  arrived(count: number): void {
    for (let i = 0; i < count && this.parked.length > 0; i++) this.parked.pop()!(Effect.void)
  }

  /** Whether a wake-up of `arrivedSoon` is scheduled. */
  private soon = false

  /**
   * Wakes one parked fiber once the running one gave the thread up (a handler waiting, or the
   * runtime's yield), if `ready()` holds then; at most one such wake-up is pending. A lane whose
   * handlers finish at once takes the next record itself: waking another at every record it
   * took made every lane of the partition run (one fiber switch a record) where one sufficed.
   */
  arrivedSoon(scheduler: Scheduler.Scheduler, ready: () => boolean): void {
    if (this.soon || this.parked.length === 0) return
    this.soon = true
    scheduler.scheduleTask(() => {
      this.soon = false
      if (ready()) this.arrived(1)
    }, 0)
  }

  /** The worker is stopping, or a lane failed: wakes every parked fiber to see it. */
  wakeAll(): void {
    if (this.parked.length === 0) return
    const parked = this.parked
    this.parked = []
    for (const resume of parked) resume(Effect.void)
  }
}
