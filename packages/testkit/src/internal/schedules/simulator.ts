/**
 * A discrete-event runtime for Effect programs: a scheduler that runs fibers only when told
 * (`settle`), and a clock that moves only when told (`advance`). Every fiber forked from
 * `run` inherits both, so a whole simulated cluster with its consumers runs synchronously,
 * without a single timer of the host: the same program gives the same run, and a run of
 * simulated minutes takes milliseconds.
 *
 * It differs from `TestClock` in two ways that matter for property tests: quiescence is
 * exact (the scheduler's queue is empty, instead of "no fiber changed for a few host timer
 * ticks"), and nothing waits on the host's `setTimeout`, so thousands of schedules fit in a
 * test run.
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scheduler from "effect/Scheduler"

interface Timer {
  readonly at: number
  readonly id: number
  readonly fire: () => void
  cancelled: boolean
}

/** A clock that moves only when `VirtualRuntime.advance` moves it. */
class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  now = 0
  private nextId = 0
  /** Pending sleeps, kept sorted by (at, id): sleeps due at the same instant fire in order. */
  timers: Array<Timer> = []

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => BigInt(this.now) * 1_000_000n)

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    if (!Duration.isFinite(duration)) return Effect.never
    return Effect.async<void>((resume) => {
      const timer: Timer = {
        at: this.now + Math.max(0, Duration.toMillis(duration)),
        id: this.nextId++,
        fire: () => resume(Effect.void),
        cancelled: false
      }
      this.insert(timer)
      return Effect.sync(() => {
        timer.cancelled = true
      })
    })
  }

  private insert(timer: Timer): void {
    const timers = this.timers
    let lo = 0
    let hi = timers.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const t = timers[mid]!
      if (t.at < timer.at || (t.at === timer.at && t.id < timer.id)) lo = mid + 1
      else hi = mid
    }
    timers.splice(lo, 0, timer)
  }

  /** The earliest live timer due at or before `until`, removed; undefined if none. */
  takeDue(until: number): Timer | undefined {
    while (this.timers.length > 0) {
      const first = this.timers[0]!
      if (first.cancelled) {
        this.timers.shift()
        continue
      }
      if (first.at > until) return undefined
      this.timers.shift()
      return first
    }
    return undefined
  }

  /** When the next live timer is due, or undefined. */
  nextDue(): number | undefined {
    for (const timer of this.timers) if (!timer.cancelled) return timer.at
    return undefined
  }
}

/** Thrown when the fibers never run out of work: a livelock (or a busy loop) in the code under test. */
export class Livelock extends Error {}

/** A scheduler that queues tasks until `settle` runs them. */
class VirtualScheduler implements Scheduler.Scheduler {
  private tasks = new Scheduler.PriorityBuckets()
  pending = 0

  scheduleTask(task: Scheduler.Task, priority: number): void {
    this.pending++
    this.tasks.scheduleTask(task, priority)
  }

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return Scheduler.defaultShouldYield(fiber)
  }

  /** Runs tasks until none is left; returns how many ran. */
  drain(budget: number): number {
    let ran = 0
    while (this.pending > 0) {
      const buckets = this.tasks.buckets
      this.tasks.buckets = []
      for (const [, tasks] of buckets) {
        for (let i = 0; i < tasks.length; i++) {
          this.pending--
          ran++
          tasks[i]!()
        }
      }
      if (ran > budget) throw new Livelock(`fibers still busy after ${ran} tasks without the clock moving`)
    }
    return ran
  }
}

/**
 * The runtime: `run` starts an effect on it, `settle` runs every fiber until all wait (for
 * the clock or for each other), `advance` moves the clock, firing due sleeps in order and
 * settling after each.
 */
export class VirtualRuntime<R> {
  readonly clock = new VirtualClock()
  private readonly scheduler = new VirtualScheduler()
  /** Scheduler tasks run so far: the cost of a run, for statistics. */
  tasks = 0
  private context: Context.Context<R> | undefined

  constructor(private readonly budget = 5_000_000) {}

  get now(): number {
    return this.clock.now
  }

  /** Services every later `run` gets (the simulated cluster's layer, once built). */
  provide(context: Context.Context<R>): void {
    this.context = context
  }

  /** Starts `effect` on the virtual runtime, with the virtual clock and without logging. */
  fork<A, E>(effect: Effect.Effect<A, E, R>): Fiber.RuntimeFiber<A, E> {
    const provided = (this.context === undefined ? effect : Effect.provide(effect, this.context)) as Effect.Effect<
      A,
      E,
      never
    >
    return Effect.runFork(provided.pipe(Effect.withClock(this.clock), Logger.withMinimumLogLevel(LogLevel.None)), {
      scheduler: this.scheduler
    })
  }

  /** Runs every fiber until all of them wait; fires sleeps due now. */
  settle(): void {
    for (;;) {
      this.tasks += this.scheduler.drain(this.budget)
      const timer = this.clock.takeDue(this.clock.now)
      if (timer === undefined) return
      timer.fire()
    }
  }

  /** Runs `effect` to completion without moving the clock; throws if it needs time. */
  run<A, E>(effect: Effect.Effect<A, E, R>): A {
    const fiber = this.fork(effect)
    this.settle()
    const exit = fiber.unsafePoll()
    if (exit === null) throw new Error("an effect run by the simulation did not complete without the clock moving")
    if (Exit.isSuccess(exit)) return exit.value
    throw new Error(`an effect run by the simulation failed: ${String(exit.cause)}`)
  }

  /** Moves the clock by `millis`, firing due sleeps one instant at a time and settling after each. */
  advance(millis: number): void {
    const until = this.clock.now + Math.max(0, millis)
    this.settle()
    for (;;) {
      const timer = this.clock.takeDue(until)
      if (timer === undefined) break
      this.clock.now = Math.max(this.clock.now, timer.at)
      timer.fire()
      this.settle()
    }
    this.clock.now = until
    this.settle()
  }

  /** When the next sleep is due (undefined: nothing sleeps). */
  nextDue(): number | undefined {
    return this.clock.nextDue()
  }
}
