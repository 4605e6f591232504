/**
 * How fast the machine runs Effect code right now: a short bare-Effect loop, timed.
 *
 * Why: the bench's machine has slow spells that its load average does not show, from seconds to
 * minutes long, and they slow the engine's kind of work far more than plain arithmetic. Measured
 * in session 35, nothing else running, each figure from processes pinned to core 1:
 * - Pairs of processes, `partition` mode then the bare Effect loop, one mode each: in spells both
 *   ran at 55–65 % of their speed before and after (`partition` 1.40–1.55 M records/s against
 *   2.2–2.6 M, the loop 2.7–3.1 M against 4.4–4.9 M), their ratio holding (0.48–0.5).
 * - A loop of integer arithmetic timed in the same processes ran at its usual speed throughout;
 *   in one process timing four probes every 0.4 s, a spell took this loop to 2.2× its median,
 *   a random walk through 64 MB to 1.2×, the integer loop to 1.04–1.08×.
 * - This probe taken in the orchestrator, which runs on either core, missed the spells; taken in
 *   the children themselves, it measured their heaps too (twice as long after `partition` mode as
 *   after the bare loop). In a pinned process of its own (`workloads/speedProbe.ts`) it took
 *   33–42 ms at the usual speed and 50–65 ms in a spell, round for round with the engine.
 *
 * So the probe is the engine's floor itself, one fiber running a `matchCauseEffect` around an
 * `Effect.sync` per step. Spells come one core at a time, so before each child of workload 2 (and
 * of 2b's metrics pass) `run.ts` takes it in a process of its own on each core, runs the child on
 * the faster one, and takes it again on that core after the child. It compares the slower of the
 * two with the usual speed over all the children (`usualProbe`, `slowedBy`) and runs a round
 * caught in a spell again.
 */
import * as Effect from "effect/Effect"

/** One fiber, one `matchCauseEffect` per step around `handler()`: partition mode's floor. */
export const effectLoop = (steps: number, handler: () => Effect.Effect<void>): Effect.Effect<void> =>
  Effect.suspend(() => {
    let i = 0
    const onFailure = () => Effect.void
    const next = (): Effect.Effect<void> =>
      i < steps ? Effect.matchCauseEffect(handler(), { onFailure, onSuccess }) : Effect.void
    const onSuccess = () => {
      i++
      return next()
    }
    return next()
  })

/** 20–40 ms at the machine's usual speed: long against the clock's resolution, short against a round. */
export const probeSteps = 200_000

const nothing = (): void => {}
/** Like the engine workload's handlers: an `Effect.sync` made per step. */
const step = () => Effect.sync(nothing)

let warm = false

/** How many times the probe loop runs after its warm-up; `speedProbe` keeps the fastest. */
export const probeTimes = 3

/** Milliseconds the probe loop took now: the fastest of three, so that one pause (a GC, another thread) does not count. */
export const speedProbe = (): number => {
  if (!warm) {
    Effect.runSync(effectLoop(probeSteps, step))
    warm = true
  }
  let fastest = Number.POSITIVE_INFINITY
  for (let i = 0; i < probeTimes; i++) {
    const start = performance.now()
    Effect.runSync(effectLoop(probeSteps, step))
    fastest = Math.min(fastest, performance.now() - start)
  }
  return fastest
}

/** A run's two probes, taken right before and right after its timed part (ms). */
export interface Probes {
  readonly before: number
  readonly after: number
}

/** The slower of a run's two probes: a spell that began or ended during the run shows in one of them. */
export const slowerProbe = (probes: Probes): number => Math.max(probes.before, probes.after)

/**
 * How much slower than usual the machine ran around a run: its slower probe over `reference`,
 * the usual speed of the runs compared (`usualProbe`). 1 is the usual speed.
 */
export const slowedBy = (probes: Probes, reference: number): number => slowerProbe(probes) / reference

/**
 * A run whose slower probe took this much longer than the usual fell in a slow spell: at the
 * usual speed the probes spread by about 1.2× (33–42 ms), in spells they took 1.35–1.75×.
 */
export const slowedAbove = 1.25

/**
 * The machine's usual speed over `runs`: the lower quartile of their slower probes. Not the
 * median: spells are common enough (in one hour of session 35 core 1 spent minutes at a time in
 * them) that half of a run's probes can fall in spells, and then the median is a spell's speed.
 * A probe is never faster than the machine, so the lower quartile is not an outlier's.
 */
export const usualProbe = (runs: ReadonlyArray<{ readonly probes: Probes }>): number => {
  const sorted = runs.map((run) => slowerProbe(run.probes)).sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 4)]!
}

/** Whether a run fell in a slow spell: its slower probe took over `slowedAbove` × `reference`. */
export const inSpell = (run: { readonly probes: Probes }, reference: number): boolean =>
  slowedBy(run.probes, reference) > slowedAbove

/**
 * The runs of one kind that a median may count: those at the usual speed, or all of them when
 * fewer than `atLeast` are (a median of one or two runs would say less than one of all).
 */
export const countedRuns = <A extends { readonly probes: Probes }>(
  runs: ReadonlyArray<A>,
  reference: number,
  atLeast = 3
): ReadonlyArray<A> => {
  const usual = runs.filter((run) => !inSpell(run, reference))
  return usual.length >= atLeast ? usual : runs
}
