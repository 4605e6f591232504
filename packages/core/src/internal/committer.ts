/**
 * The committer: commits each partition's frontier (the lowest unfinished offset, G1) with the
 * finished offsets above it in the metadata, by count (`commitEvery`) or by time
 * (`commitInterval`), and on demand (the stream API's `commitUpTo`, revocation, shutdown).
 *
 * The one commit lock: every commit builds its offsets and records the result while holding
 * `lock`, and revocation and loss remove a partition while holding it. So once a partition's
 * removal released the lock, no commit can name it again (G2); and commits of one partition
 * never overlap, so they stay monotonic.
 *
 * Owns the lock, the count of records finished since the last commit and the signal that wakes
 * the periodic commit. Touches a worker's `committed` and `committedMetadata` (under the lock)
 * and, for `commitUpTo`, finishes offsets (`Worker.finish`). Reads the workers; never adds or
 * removes one.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Committer as StreamCommitter } from "../CommittableRecord.js"
import type { OffsetAndMetadata } from "../ConsumerDriver.js"
import { ConsumerEvent } from "../ConsumerEvent.js"
import type { ConsumerSettings } from "../ConsumerSettings.js"
import type { KafkaError } from "../KafkaError.js"
import * as TP from "../TopicPartition.js"
import * as Metrics from "./metrics.js"
import type { SessionHandle } from "./session.js"
import * as Tracing from "./tracing.js"
import { asKafkaError } from "./transactional.js"
import type { Worker } from "./worker.js"

export class Committer {
  /** The one commit lock (one permit). */
  readonly lock: Effect.Semaphore = Effect.unsafeMakeSemaphore(1)
  /**
   * Workers whose partitions are being lost, told before the loss waits for the lock: a commit
   * that names one is not retried (it cannot succeed, and would hold the lock, and with it the
   * loss, for every retry: seen with a coordinator gone, 15 s and more).
   */
  readonly losing = new Set<Worker>()
  /** Opened when `commitEvery` records finished since the last commit: commit now, not at the interval. */
  private readonly signal: Effect.Latch = Effect.unsafeMakeLatch(false)
  private finishedSinceCommit = 0

  constructor(
    private readonly settings: ConsumerSettings,
    /** The group this engine's member belongs to (the run's, which may override the settings'). */
    private readonly groupId: string,
    /** The engine's workers by key: read here, added and removed only by the engine and revocation. */
    private readonly workers: ReadonlyMap<string, Worker>,
    private readonly session: SessionHandle,
    private readonly publish: Metrics.Publish,
    private readonly metrics: Metrics.EngineMetrics | undefined,
    /**
     * The engine's loss of partitions (revocation's), for a partition whose producer was fenced,
     * told to the health too: the group may still count it as this member's.
     */
    private readonly lose: (partitions: ReadonlyArray<TP.TopicPartition>) => Effect.Effect<void>
  ) {}

  /** A record finished: counts it towards `commitEvery`. */
  onFinished(): void {
    if (++this.finishedSinceCommit >= this.settings.commitEvery) this.signal.unsafeOpen()
  }

  /** Offsets worth committing for these workers: frontier known and past the last commit. */
  private pendingOffsets(workers: Iterable<Worker>): Array<{ worker: Worker; offset: OffsetAndMetadata }> {
    const out: Array<{ worker: Worker; offset: OffsetAndMetadata }> = []
    for (const worker of workers) {
      if (worker.state === "closed") continue
      const frontier = worker.tracker.frontier()
      if (frontier === undefined || frontier < worker.committed) continue
      const metadata = worker.metadata(frontier)
      // Commit when the frontier moved, or when it did not but more work above it finished.
      if (frontier === worker.committed && metadata === worker.committedMetadata) continue
      out.push({
        worker,
        offset: {
          topic: worker.topicPartition.topic,
          partition: worker.topicPartition.partition,
          offset: frontier,
          metadata
        }
      })
    }
    return out
  }

  /**
   * Commits the frontier of `workers`. Must run while holding `lock`. Retriable failures are
   * retried with exponential backoff; a failure left after that is reported as an event and
   * not raised: a rebalance or fencing is handled by the revocation that follows it, and
   * anything else is retried at the next commit. `false` when the commit failed.
   *
   * `throughRebalance` (a graceful shutdown's last commit) also retries a refusal for a
   * rebalance while it answers true: there is no next commit to take the frontier over, and a
   * member that rejoins keeps what it has not yet revoked, so the same commit then passes. A
   * member that was truly fenced has its partitions declared lost, which stops the retries.
   */
  commitWorkers(workers: Iterable<Worker>, throughRebalance?: Effect.Effect<boolean>): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const pending = this.pendingOffsets(workers)
      if (pending.length === 0) return Effect.succeed(true)
      let transactional = 0
      for (const p of pending) if (p.worker.transaction !== undefined) transactional++
      if (transactional === 0) return this.commitSession(pending, throughRebalance)
      // Exactly-once partitions commit in their own transactions, never through the session.
      const plain = pending.filter((p) => p.worker.transaction === undefined)
      return Effect.zipWith(
        plain.length === 0 ? Effect.succeed(true) : this.commitSession(plain, throughRebalance),
        Effect.forEach(
          pending.filter((p) => p.worker.transaction !== undefined),
          (p) => this.commitTransaction(p.worker, p.offset),
          { concurrency: "unbounded" }
        ),
        (a, b) => a && b.every((ok) => ok)
      )
    })
  }

  /** An exactly-once partition's frontier and outputs in one transaction (`transactional.ts`). */
  private commitTransaction(worker: Worker, offset: OffsetAndMetadata): Effect.Effect<boolean> {
    const group = this.metrics?.group
    return Effect.flatMap(worker.transaction!.commit(offset, this.retry()), (result) => {
      if (result === "skipped") return Effect.succeed(true)
      if (result === "committed") {
        if (group !== undefined) Metrics.commits.unsafeUpdate(1, group)
        if (offset.offset >= worker.committed) {
          worker.committed = offset.offset
          worker.committedMetadata = offset.metadata ?? ""
        }
        return Effect.as(this.publish(ConsumerEvent.Committed({ offsets: [offset] })), true)
      }
      if (group !== undefined) Metrics.commitFailures.unsafeUpdate(1, group)
      if (result === "fenced") {
        // A fenced producer: the partition moved on (G10). Lost, on a fiber of its own: this
        // commit may run on the partition's fiber, which the loss interrupts.
        return Effect.as(Effect.forkDaemon(this.lose([worker.topicPartition])), false)
      }
      const error = asKafkaError(result)
      return Effect.as(
        Effect.zipRight(
          Effect.logWarning("Sluice: transaction commit failed", error),
          this.publish(ConsumerEvent.CommitFailed({ offsets: [offset], error }))
        ),
        false
      )
    })
  }

  private retry() {
    return Schedule.exponential(this.settings.commitRetryBase).pipe(
      Schedule.intersect(Schedule.recurs(this.settings.commitRetries))
    )
  }

  /** Commits one worker's frontier now, under the lock (an exactly-once partition's transaction). */
  commitOne(worker: Worker): Effect.Effect<void> {
    return this.lock.withPermits(1)(Effect.asVoid(this.commitWorkers([worker])))
  }

  private commitSession(
    pending: ReadonlyArray<{ worker: Worker; offset: OffsetAndMetadata }>,
    throughRebalance: Effect.Effect<boolean> | undefined
  ): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const session = this.session.current
      if (session === undefined) return Effect.succeed(true)
      const offsets = pending.map((p) => p.offset)
      const started = Metrics.seconds()
      const group = this.metrics?.group
      return session.commit(offsets).pipe(
        Effect.retry({
          schedule: this.retry(),
          while: (error: KafkaError) =>
            pending.some((p) => this.losing.has(p.worker))
              ? false
              : error.retriable ||
                (error.reason === "rebalance" && throughRebalance !== undefined ? throughRebalance : false)
        }),
        Effect.withSpan(
          "Consumer.commit",
          Tracing.engineSpan(this.groupId, "commit", { "sluice.partitions": offsets.length })
        ),
        Effect.matchEffect({
          onSuccess: () => {
            if (group !== undefined) {
              Metrics.commits.unsafeUpdate(1, group)
              Metrics.commitDuration.unsafeUpdate(Metrics.seconds() - started, group)
            }
            for (const p of pending) {
              if (p.offset.offset >= p.worker.committed) {
                p.worker.committed = p.offset.offset
                p.worker.committedMetadata = p.offset.metadata ?? ""
              }
            }
            return Effect.as(this.publish(ConsumerEvent.Committed({ offsets })), true)
          },
          onFailure: (error) => {
            if (group !== undefined) {
              Metrics.commitFailures.unsafeUpdate(1, group)
              Metrics.commitDuration.unsafeUpdate(Metrics.seconds() - started, group)
            }
            return Effect.as(
              Effect.zipRight(
                Effect.logWarning("Sluice: offset commit failed", error),
                this.publish(ConsumerEvent.CommitFailed({ offsets, error }))
              ),
              false
            )
          }
        })
      )
    })
  }

  /**
   * Commits the frontier of every owned partition, but exactly-once ones: they commit by their
   * own pipeline's count and time (`transactional.ts`).
   */
  readonly commitAll: Effect.Effect<void> = Effect.suspend(() => {
    this.finishedSinceCommit = 0
    return this.lock.withPermits(1)(Effect.asVoid(this.commitWorkers(this.plainWorkers())))
  })

  private *plainWorkers(): Iterable<Worker> {
    for (const worker of this.workers.values()) if (worker.transaction === undefined) yield worker
  }

  /**
   * Commits by count (`commitEvery`) or by time (`commitInterval`), until interrupted: a commit
   * when `commitEvery` records finished, or `commitInterval` after the end of this loop's last
   * commit (whichever started it), as when each wait raced a sleep against the signal.
   *
   * The loop waits on the signal alone, and a ticker opens it once the interval is up. Racing a
   * sleep against the signal for every commit forked two fibers and set and cleared a timer each
   * time, and kept more alive through young collections (a commit per poll at throughput:
   * docs/benchmarks.md, workload 1 over librdkafka).
   */
  get periodically(): Effect.Effect<never> {
    const interval = Duration.toMillis(this.settings.commitInterval)
    let committing = false
    let lastEnd = 0
    const ticker = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      lastEnd = now
      return Effect.forever(
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const due = lastEnd + interval
          if (committing || now < due) return Effect.sleep(Math.max(1, committing ? interval : due - now))
          this.signal.unsafeOpen()
          return Effect.sleep(interval)
        })
      )
    })
    const commits = Effect.forever(
      Effect.zipRight(
        this.signal.await,
        Effect.suspend(() => {
          this.signal.unsafeClose()
          committing = true
          return Effect.ensuring(
            this.commitAll,
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                committing = false
                lastEnd = now
              })
            )
          )
        })
      )
    )
    return Effect.raceFirst(ticker, commits)
  }

  /**
   * Marks offsets below `offset` of a partition finished (the per-partition stream API,
   * where the user commits by offset) and commits them now, if the partition is still
   * owned in the same epoch. A stale offset is ignored: never a commit after revocation.
   */
  readonly commitUpTo: StreamCommitter = (offsets) =>
    this.lock.withPermits(1)(
      Effect.suspend(() => {
        const touched: Array<Worker> = []
        for (const { epoch, offset, tp } of offsets) {
          const worker = this.workers.get(TP.key(tp))
          if (worker === undefined || worker.epoch !== epoch || worker.state === "closed") continue
          let frontier = worker.tracker.frontier()
          while (frontier !== undefined && frontier < offset && frontier <= worker.tracker.highestReceived()) {
            if (worker.finish(frontier)) this.onFinished()
            frontier = worker.tracker.frontier()
          }
          touched.push(worker)
        }
        return Effect.asVoid(this.commitWorkers(touched))
      })
    )
}
