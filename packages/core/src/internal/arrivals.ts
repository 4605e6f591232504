/**
 * What the fibers of a worker's processor park on while they have no record to run: records
 * arriving, or the worker stopping (revoked, lost, failed).
 *
 * Arriving records wake only as many parked fibers as there are new records. A latch, opened
 * for every delivery, woke every parked lane of a keyed or unordered partition (up to its
 * concurrency, 100 in the benchmarks) for what was often a single record: each woken lane then
 * found nothing to do and parked again, about 0.2 wake-ups per record handled.
 *
 * No wake-up is lost: a fiber parks only if its own `ready` test fails at the moment it parks
 * (the test and the parking run in one step of that fiber), and a delivery wakes the fibers
 * parked by then. A wake-up no fiber needed (another took the record first) costs one look and
 * one more park.
 */
import * as Effect from "effect/Effect"

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

  /** `count` records arrived: wakes up to that many parked fibers. */
  arrived(count: number): void {
    for (let i = 0; i < count && this.parked.length > 0; i++) this.parked.pop()!(Effect.void)
  }

  /** The worker is stopping, or a lane failed: wakes every parked fiber to see it. */
  wakeAll(): void {
    if (this.parked.length === 0) return
    const parked = this.parked
    this.parked = []
    for (const resume of parked) resume(Effect.void)
  }
}
