/**
 * Stall detection (O3): one watch per pipeline run. Each attempt of a record's handler (or of
 * a batch pipeline's handler on a chunk, reported by the chunk's first record) registers while
 * it runs; a watcher fiber looks at the running attempts every quarter of the
 * stall timeout and reports each one that has run longer than the timeout, once: the
 * `Stalled` event, the `sluice_records_stalled` metric, the partition's mark in the health and
 * a `stalled` event on the record's span. Under `StallPolicy.interrupt` it also signals the
 * attempt, which races that signal and fails with `RecordStalled` (its own work interrupted,
 * finalizers run) for the pipeline to settle.
 *
 * Nothing here runs for a pipeline without `stallTimeout`. With it, an attempt costs a clock
 * read and a set entry (and, when interrupting, a race: two fibers), which is why detection is
 * opt-in rather than on for everyone.
 *
 * Owns the set of running attempts and the count of stalled attempts per partition (the
 * partition is stalled in the health while that count is above zero). Written by `guard`
 * (add, remove) and the watcher (marks an attempt stalled), on one thread, never across a
 * yield.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type { RawRecord } from "../ConsumerRecord.js"
import * as StallPolicy from "../StallPolicy.js"
import * as TP from "../TopicPartition.js"
import * as Metrics from "./metrics.js"

/** What a watch reports to: the consumer's events and health (through the `Consumer` service). */
export interface StallReports {
  readonly stalled: (
    groupId: string,
    stall: {
      readonly partition: TP.TopicPartition
      readonly offset: number
      readonly millis: number
      readonly interrupted: boolean
    }
  ) => Effect.Effect<void>
  readonly cleared: (groupId: string, partition: TP.TopicPartition) => Effect.Effect<void>
}

interface Attempt {
  /** The record, or a batch pipeline's chunk's first record, that the stall is reported with. */
  readonly raw: RawRecord
  /** How many records the attempt handles: 1, or a chunk's size. */
  readonly count: number
  readonly started: number
  readonly span: Tracer.Span | undefined
  /** Completed by the watcher when the policy interrupts; the attempt races it. */
  readonly signal: Deferred.Deferred<void> | undefined
  stalled: boolean
}

export class StallWatch {
  private readonly running = new Set<Attempt>()
  /** Stalled attempts still running, per partition key. */
  private readonly stalledPerPartition = new Map<string, number>()
  private readonly interrupting: boolean

  constructor(
    private readonly timeoutMillis: number,
    policy: StallPolicy.StallPolicy<unknown>,
    private readonly groupId: string,
    private readonly reports: StallReports
  ) {
    this.interrupting = policy._tag === "Interrupt"
  }

  /**
   * Runs `attempt` (one try of the handler of `raws`: a record, or a batch pipeline's chunk of
   * one partition, reported by its first record) under the watch.
   */
  guard<A, E, R>(
    raws: ReadonlyArray<RawRecord>,
    attempt: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | StallPolicy.RecordStalled, R> {
    const raw = raws[0]!
    const what = raws.length === 1 ? "" : ` (a chunk of ${raws.length} records)`
    return Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
      Effect.clockWith((clock) => {
        const entry: Attempt = {
          raw,
          count: raws.length,
          started: clock.unsafeCurrentTimeMillis(),
          span: Option.getOrUndefined(span),
          signal: this.interrupting ? Deferred.unsafeMake<void>(FiberId.none) : undefined,
          stalled: false
        }
        this.running.add(entry)
        const watched: Effect.Effect<A, E | StallPolicy.RecordStalled, R> =
          entry.signal === undefined
            ? attempt
            : Effect.raceFirst(
                attempt,
                Effect.zipRight(
                  Deferred.await(entry.signal),
                  Effect.suspend(() =>
                    Effect.fail(
                      new StallPolicy.RecordStalled({
                        topic: raw.topic,
                        partition: raw.partition,
                        offset: raw.offset,
                        millis: clock.unsafeCurrentTimeMillis() - entry.started,
                        message: `${raw.topic}[${raw.partition}]@${raw.offset}${what} ran longer than the stall timeout (${this.timeoutMillis} ms) and was interrupted`
                      })
                    )
                  )
                )
              )
        return Effect.ensuring(
          watched,
          Effect.suspend(() => this.ended(entry))
        )
      })
    )
  }

  private ended(entry: Attempt): Effect.Effect<void> {
    this.running.delete(entry)
    if (!entry.stalled) return Effect.void
    const key = TP.key(entry.raw)
    const left = (this.stalledPerPartition.get(key) ?? 1) - 1
    if (left > 0) {
      this.stalledPerPartition.set(key, left)
      return Effect.void
    }
    this.stalledPerPartition.delete(key)
    return this.reports.cleared(this.groupId, TP.make(entry.raw.topic, entry.raw.partition))
  }

  /** Reports (and, when interrupting, signals) every attempt past the timeout, once. */
  private readonly check: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const found: Array<Attempt> = []
    for (const entry of this.running) {
      if (!entry.stalled && now - entry.started >= this.timeoutMillis) {
        entry.stalled = true
        const key = TP.key(entry.raw)
        this.stalledPerPartition.set(key, (this.stalledPerPartition.get(key) ?? 0) + 1)
        found.push(entry)
      }
    }
    if (found.length === 0) return Effect.void
    return Effect.forEach(
      found,
      (entry) => {
        const millis = now - entry.started
        const { raw } = entry
        entry.span?.event("stalled", BigInt(now) * 1_000_000n, {
          "sluice.stall.millis": millis,
          "sluice.stall.interrupted": this.interrupting
        })
        return Effect.zipRight(
          Effect.zipRight(
            Effect.logWarning(
              `Sluice: ${raw.topic}[${raw.partition}]@${raw.offset}${entry.count === 1 ? "" : ` and ${entry.count - 1} more`} in flight for ${millis} ms, longer than its stall timeout${this.interrupting ? ": interrupted" : ""}`
            ),
            Metrics.update(Metrics.recordsStalled, entry.count, Metrics.partitionLabels(this.groupId, raw))
          ),
          Effect.zipRight(
            this.reports.stalled(this.groupId, {
              partition: TP.make(raw.topic, raw.partition),
              offset: raw.offset,
              millis,
              interrupted: this.interrupting
            }),
            entry.signal === undefined ? Effect.void : Deferred.succeed(entry.signal, undefined)
          )
        )
      },
      { discard: true }
    )
  })

  /** The watcher: runs until interrupted (fork it for the pipeline run). */
  get watching(): Effect.Effect<never> {
    // A quarter of the timeout: a stall is seen at most 25 % late, and the watcher wakes
    // rarely for the long timeouts stalls are usually given.
    const every = Math.max(5, Math.min(1_000, Math.floor(this.timeoutMillis / 4)))
    return Effect.forever(Effect.zipRight(Effect.sleep(every), this.check))
  }
}
