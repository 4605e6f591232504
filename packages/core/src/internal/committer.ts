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
import type { Worker } from "./worker.js"

export class Committer {
  /** The one commit lock (one permit). */
  readonly lock: Effect.Semaphore = Effect.unsafeMakeSemaphore(1)
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
    private readonly metrics: Metrics.EngineMetrics | undefined
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
   */
  commitWorkers(workers: Iterable<Worker>): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const pending = this.pendingOffsets(workers)
      const session = this.session.current
      if (pending.length === 0 || session === undefined) return Effect.succeed(true)
      const offsets = pending.map((p) => p.offset)
      const started = Metrics.seconds()
      const group = this.metrics?.group
      const retry = Schedule.exponential(this.settings.commitRetryBase).pipe(
        Schedule.intersect(Schedule.recurs(this.settings.commitRetries))
      )
      return session.commit(offsets).pipe(
        Effect.retry({ schedule: retry, while: (error: KafkaError) => error.retriable }),
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

  /** Commits the frontier of every owned partition. */
  readonly commitAll: Effect.Effect<void> = Effect.suspend(() => {
    this.finishedSinceCommit = 0
    return this.lock.withPermits(1)(Effect.asVoid(this.commitWorkers(this.workers.values())))
  })

  /** Commits by count (`commitEvery`) or by time (`commitInterval`), until interrupted. */
  get periodically(): Effect.Effect<never> {
    return Effect.forever(
      Effect.zipRight(
        Effect.raceFirst(Effect.sleep(this.settings.commitInterval), this.signal.await),
        Effect.suspend(() => {
          this.signal.unsafeClose()
          return this.commitAll
        })
      )
    )
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
