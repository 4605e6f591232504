/**
 * Faults in the user's handler, as combinators: a handler `(record) => Effect<void, E, R>`
 * goes in, the same handler with a fault comes out. Failing, hanging and slow handlers are
 * the pipeline's business, not the driver's, so they live here and work on any driver.
 *
 * Each wrapped handler keeps its own counters (attempts per record, a seeded generator),
 * created when it is wrapped: wrap once, where the pipeline is built.
 *
 * @example
 * ```ts
 * import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
 * import * as Pipeline from "@sluice/core/Pipeline"
 * import * as Topic from "@sluice/core/Topic"
 * import * as HandlerFaults from "@sluice/testkit/HandlerFaults"
 * import * as Effect from "effect/Effect"
 * import { pipe } from "effect/Function"
 * import * as Schedule from "effect/Schedule"
 *
 * const orders = Topic.make({ name: "orders" })
 * const save = (record: Topic.RecordOf<typeof orders>) => Effect.log(`saved ${record.offset}`)
 *
 * // The pipeline under test, its handler with faults: does the retry policy carry it through?
 * const billing = Pipeline.make({
 *   topic: orders,
 *   handler: pipe(
 *     save,
 *     HandlerFaults.failTimes(2), // every record fails twice, then succeeds
 *     HandlerFaults.hang([7]), // offset 7 never completes (until interrupted)
 *     HandlerFaults.slow("50 millis")
 *   ),
 *   policy: ErrorPolicy.retry(Schedule.recurs(2))
 * })
 * ```
 *
 * @since 0.1.0
 */

import * as TP from "@sluice/core/TopicPartition"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { Prng } from "./internal/memory/prng.js"

/**
 * What the combinators need of a record: where it is.
 *
 * @since 0.1.0
 */
export interface RecordLike {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/**
 * The handler shape the combinators wrap: a record in, an effect out.
 *
 * @since 0.1.0
 */
export type Handler<In, E, R> = (record: In) => Effect.Effect<void, E, R>

/**
 * Which records a fault applies to: offsets (of any partition) or a predicate.
 *
 * @since 0.1.0
 */
export type Match = Iterable<number> | ((record: RecordLike) => boolean)

/**
 * How many attempts of a matching record a fault takes: all when omitted.
 *
 * @since 0.2.0
 */
export interface Times {
  readonly times?: number | undefined
}

/**
 * Which records a fault applies to: all when omitted.
 *
 * @since 0.2.0
 */
export interface Where {
  readonly where?: Match | undefined
}

/**
 * The failure an injected fault produces.
 *
 * @since 0.1.0
 */
export class InjectedFault extends Data.TaggedError("InjectedFault")<{
  readonly fault: "failAt" | "failWithProbability" | "failTimes"
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** 1 for the first call of the handler for this record. */
  readonly attempt: number
  readonly message: string
}> {}

const matcher = (match: Match): ((record: RecordLike) => boolean) => {
  if (typeof match === "function") return match
  const offsets = new Set(match)
  return (record) => offsets.has(record.offset)
}

const recordKey = (record: RecordLike): string => `${TP.key(record)}|${record.offset}`

/** Calls per record, for "n times then succeed". */
const attempts = () => {
  const counts = new Map<string, number>()
  return (record: RecordLike): number => {
    const key = recordKey(record)
    const n = (counts.get(key) ?? 0) + 1
    counts.set(key, n)
    return n
  }
}

const fault = (kind: InjectedFault["fault"], record: RecordLike, attempt: number) =>
  new InjectedFault({
    fault: kind,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    attempt,
    message: `injected ${kind} at ${TP.format(record)}@${record.offset} (attempt ${attempt})`
  })

const isIterable = (u: unknown): u is Iterable<number> =>
  typeof u === "object" && u !== null && Symbol.iterator in (u as object)

/**
 * Data-first when a handler comes first and a match second: the data-last form's first
 * argument may be a predicate too, and its second, if any, is an options object.
 */
const handlerThenMatch = (args: IArguments): boolean =>
  args.length >= 2 && typeof args[0] === "function" && (typeof args[1] === "function" || isIterable(args[1]))

/** Data-first when a handler comes first: the data-last forms start with a value. */
const handlerFirst = (args: IArguments): boolean => typeof args[0] === "function"

/**
 * A combinator's two forms: data-last for `pipe`, data-first with the handler first. `Args`
 * are its own arguments; `Fault` is the failure it adds.
 *
 * @since 0.2.0
 */
export interface Combinator<Args extends ReadonlyArray<unknown>, Fault = never> {
  (...args: Args): <In extends RecordLike, E, R>(self: Handler<In, E, R>) => Handler<In, E | Fault, R>
  <In extends RecordLike, E, R>(self: Handler<In, E, R>, ...args: Args): Handler<In, E | Fault, R>
}

/** `self`, with `fault` in place of the first `times` attempts of each matching record. */
const firstAttempts = <In extends RecordLike, E, R, F>(
  self: Handler<In, E, R>,
  matches: (record: RecordLike) => boolean,
  times: number,
  fault: (record: In, attempt: number) => Effect.Effect<void, F>
): Handler<In, E | F, R> => {
  const count = attempts()
  return (record) =>
    Effect.suspend((): Effect.Effect<void, E | F, R> => {
      if (!matches(record)) return self(record)
      const attempt = count(record)
      return attempt <= times ? fault(record, attempt) : self(record)
    })
}

const everyRecord = (): boolean => true

/**
 * Fails matching records with `InjectedFault`: every time, or for their first `times`
 * attempts.
 *
 * @since 0.1.0
 */
export const failAt: Combinator<[match: Match, options?: Times], InjectedFault> = dual(
  handlerThenMatch,
  <In extends RecordLike, E, R>(
    self: Handler<In, E, R>,
    match: Match,
    options?: Times
  ): Handler<In, E | InjectedFault, R> =>
    firstAttempts(self, matcher(match), options?.times ?? Number.POSITIVE_INFINITY, (record, attempt) =>
      Effect.fail(fault("failAt", record, attempt))
    )
)

/**
 * Fails each call with probability `p`, drawn from a generator seeded with `seed`: the same
 * calls in the same order fail on every run.
 *
 * @since 0.1.0
 */
export const failWithProbability: Combinator<[p: number, seed: number], InjectedFault> = dual(
  handlerFirst,
  <In extends RecordLike, E, R>(
    self: Handler<In, E, R>,
    p: number,
    seed: number
  ): Handler<In, E | InjectedFault, R> => {
    const prng = new Prng(seed)
    const count = attempts()
    return (record) =>
      Effect.suspend((): Effect.Effect<void, E | InjectedFault, R> => {
        const attempt = count(record)
        return prng.nextFloat() < p ? Effect.fail(fault("failWithProbability", record, attempt)) : self(record)
      })
  }
)

/**
 * Every (matching) record fails its first `n` attempts, then succeeds: the shape of a
 * transient failure that a retry policy should absorb.
 *
 * @since 0.1.0
 */
export const failTimes: Combinator<[n: number, options?: Where], InjectedFault> = dual(
  handlerFirst,
  <In extends RecordLike, E, R>(
    self: Handler<In, E, R>,
    n: number,
    options?: Where
  ): Handler<In, E | InjectedFault, R> =>
    firstAttempts(self, options?.where === undefined ? everyRecord : matcher(options.where), n, (record, attempt) =>
      Effect.fail(fault("failTimes", record, attempt))
    )
)

/**
 * Sleeps `duration` (of the `Clock`) before the handler, for every record or the matching
 * ones.
 *
 * @since 0.1.0
 */
export const slow: Combinator<[duration: Duration.DurationInput, options?: Where]> = dual(
  handlerFirst,
  <In extends RecordLike, E, R>(
    self: Handler<In, E, R>,
    duration: Duration.DurationInput,
    options?: Where
  ): Handler<In, E, R> => {
    const matches = options?.where === undefined ? everyRecord : matcher(options.where)
    const delay = Duration.decode(duration)
    return (record) => (matches(record) ? Effect.zipRight(Effect.sleep(delay), self(record)) : self(record))
  }
)

/**
 * Matching records never complete (until interrupted: revocation and shutdown must be able
 * to take them away), on every attempt or their first `times`.
 *
 * @since 0.1.0
 */
export const hang: Combinator<[match: Match, options?: Times]> = dual(
  handlerThenMatch,
  <In extends RecordLike, E, R>(self: Handler<In, E, R>, match: Match, options?: Times): Handler<In, E, R> =>
    firstAttempts(self, matcher(match), options?.times ?? Number.POSITIVE_INFINITY, () => Effect.never)
)

/**
 * Matching records die (a defect, not a typed failure): the handler threw.
 *
 * @since 0.1.0
 */
export const dieAt: Combinator<[match: Match]> = dual(
  2,
  <In extends RecordLike, E, R>(self: Handler<In, E, R>, match: Match): Handler<In, E, R> => {
    const matches = matcher(match)
    return (record) =>
      Effect.suspend(() =>
        matches(record)
          ? Effect.die(new Error(`injected defect at ${TP.format(record)}@${record.offset}`))
          : self(record)
      )
  }
)
