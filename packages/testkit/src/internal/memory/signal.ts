/**
 * Wake-ups between fibers without polling: the member fibers and the group coordinators
 * sleep on these when there is nothing to do, so an idle simulated cluster costs nothing
 * and, under `TestClock`, makes progress without the test adjusting the clock.
 *
 * The checks run inside the `Effect.async` registration, so no notification can fall
 * between "nothing to do" and "waiting" (the runtime may yield between two effects).
 */
import * as Effect from "effect/Effect"

/** One waiter, a sticky flag: a notify before the wait is not lost. */
export class Signal {
  private pending = false
  private waiter: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  notify(): void {
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter(Effect.void)
    } else {
      this.pending = true
    }
  }

  readonly await: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.pending) {
      this.pending = false
      resume(Effect.void)
      return
    }
    this.waiter = resume
    return Effect.sync(() => {
      if (this.waiter === resume) this.waiter = undefined
    })
  })
}

/** Many waiters, no memory: each waiter re-checks its condition at every notification. */
export class Notifier {
  private waiters = new Set<() => void>()

  notify(): void {
    if (this.waiters.size === 0) return
    const waiters = this.waiters
    this.waiters = new Set()
    for (const waiter of waiters) waiter()
  }

  /** Waits until `check` returns a value. */
  until<A>(check: () => A | undefined): Effect.Effect<A> {
    return Effect.async<A>((resume) => {
      const first = check()
      if (first !== undefined) {
        resume(Effect.succeed(first))
        return
      }
      let done = false
      const waiter = (): void => {
        if (done) return
        const value = check()
        if (value === undefined) {
          this.waiters.add(waiter)
        } else {
          done = true
          resume(Effect.succeed(value))
        }
      }
      this.waiters.add(waiter)
      return Effect.sync(() => {
        done = true
        this.waiters.delete(waiter)
      })
    })
  }
}
