/**
 * The engine: one worker (fiber + Scope + offset tracker + bounded buffer) per assigned
 * partition, one committer, and the revocation protocol that ties them together.
 *
 * Everything that touches the worker map, the buffers and the trackers runs synchronously
 * between two yields, so JavaScript's single thread makes each such step atomic. Commits and
 * the removal of a partition take one lock (`commitLock`), which is what makes "never commit
 * a partition after its revocation completed" hold: the committer builds its offsets inside
 * the lock, and revocation removes the partition inside the lock after its final commit.
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { GroupListener, GroupSession, OffsetAndMetadata, PartitionAssignment } from "../ConsumerDriver.js"
import { ConsumerEvent } from "../ConsumerEvent.js"
import type { RawRecord } from "../ConsumerRecord.js"
import type { ConsumerSettings } from "../ConsumerSettings.js"
import type { KafkaError } from "../KafkaError.js"
import * as OffsetMetadata from "../OffsetMetadata.js"
import { OffsetTracker } from "../OffsetTracker.js"
import * as TP from "../TopicPartition.js"
import { RecordQueue } from "./recordQueue.js"

/** How a worker consumes its partition's records: a handler loop, or a user's stream. */
export type Processor<R> = (worker: Worker) => Effect.Effect<void, never, R>

/** What a worker needs of its engine (kept narrow so workers do not depend on `R`). */
interface EngineLike {
  totalBuffered: number
  onFinished(): void
}

export type WorkerState = "running" | "revoking" | "closed"

export class Worker {
  readonly key: string
  readonly buffer = new RecordQueue()
  readonly tracker = new OffsetTracker()
  state: WorkerState = "running"
  paused = false
  /** Records taken from the buffer and not finished yet. */
  inFlight = 0
  /** The last committed frontier (-1: none known) and the metadata committed with it. */
  committed: number
  committedMetadata = ""
  /**
   * Offsets at or above the committed frontier that an earlier owner already finished (read
   * from the commit metadata at assignment): received, they are finished without running.
   */
  alreadyFinished: Set<number> | undefined = undefined
  alreadyFinishedMax = -1
  fiber: Fiber.RuntimeFiber<void> | undefined = undefined
  /** Opened when the worker's revocation (or shutdown) has ended: its work and final commit are done. */
  readonly released: Effect.Latch = Effect.unsafeMakeLatch(false)

  constructor(
    readonly topicPartition: TP.TopicPartition,
    readonly epoch: number,
    readonly scope: Scope.CloseableScope,
    /** Opened when records arrive or the worker must stop; the worker closes it before waiting. */
    readonly wake: Effect.Latch,
    /** Opened whenever nothing is in flight: revocation in drain mode waits on it. */
    readonly idle: Effect.Latch,
    committed: number
  ) {
    this.key = TP.key(topicPartition)
    this.committed = committed
  }

  /** The metadata a commit of the current frontier carries: offsets finished above it. */
  metadata(frontier: number): string {
    const finished = this.tracker.finishedAboveFrontier()
    // Offsets an earlier owner finished that this worker has not received yet must travel on,
    // or a revocation before they arrive would forget them and the next owner would redo them.
    if (this.alreadyFinished !== undefined) {
      const highest = this.tracker.highestReceived()
      const pending: Array<number> = []
      for (const offset of this.alreadyFinished) if (offset > highest && offset >= frontier) pending.push(offset)
      pending.sort((a, b) => a - b)
      for (const offset of pending) finished.push(offset)
    }
    return OffsetMetadata.encode(frontier, finished)
  }

  /** Takes the next buffered record for processing, or `undefined` when none is buffered. */
  take(engine: EngineLike): RawRecord | undefined {
    const record = this.buffer.shift()
    if (record === undefined) return undefined
    engine.totalBuffered--
    this.inFlight++
    this.idle.unsafeClose()
    return record
  }

  /** Marks an offset finished: it may now be passed by a commit. */
  finish(engine: EngineLike, offset: number): void {
    this.inFlight--
    if (this.inFlight === 0) this.idle.unsafeOpen()
    if (this.tracker.finish(offset)) engine.onFinished()
  }

  /** Ends one in-flight record without finishing it (the policy stopped on it). */
  abandon(): void {
    this.inFlight--
    if (this.inFlight === 0) this.idle.unsafeOpen()
  }

  /** Waits until records arrive or the worker must stop. */
  waitForRecords(): Effect.Effect<void> {
    this.wake.unsafeClose()
    if (this.buffer.length > 0 || this.state !== "running") return Effect.void
    return this.wake.await
  }
}

const recordsReceived = Metric.counter("sluice_records_received", {
  description: "Records delivered by the driver to partition buffers",
  incremental: true
})
const commitsTotal = Metric.counter("sluice_commits", { description: "Successful offset commits", incremental: true })
const commitFailures = Metric.counter("sluice_commit_failures", {
  description: "Offset commits that failed after their retries",
  incremental: true
})
const revocationMillis = Metric.histogram(
  "sluice_revocation_millis",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 }),
  "Time from the start of a revocation to the partition leaving"
)

export interface EngineOptions<R> {
  readonly settings: ConsumerSettings
  readonly processor: Processor<R>
  readonly context: Context.Context<R>
  readonly events: PubSub.PubSub<ConsumerEvent>
  /** Failing it stops the consumer (after the shutdown commits). */
  readonly fatal: Deferred.Deferred<never, unknown>
}

export class Engine<R> {
  readonly workers = new Map<string, Worker>()
  readonly pausedWorkers = new Set<Worker>()
  totalBuffered = 0
  finishedSinceCommit = 0
  closing = false
  private epochs = 0
  private session: GroupSession | undefined = undefined
  /** Pause/resume requests made before the driver handed out the session. */
  private pendingControl: Array<{ readonly pause: boolean; readonly tp: TP.TopicPartition }> = []
  readonly commitLock: Effect.Semaphore
  readonly commitSignal: Effect.Latch
  private readonly lowPerPartition: number
  private readonly lowTotal: number
  private readonly lowWindow: number

  constructor(
    readonly options: EngineOptions<R>,
    locks: { readonly commitLock: Effect.Semaphore; readonly commitSignal: Effect.Latch }
  ) {
    this.commitLock = locks.commitLock
    this.commitSignal = locks.commitSignal
    this.lowPerPartition = Math.floor(options.settings.buffer.perPartition / 2)
    this.lowTotal = Math.floor(options.settings.buffer.total / 2)
    this.lowWindow = Math.floor(options.settings.maxWindow / 2)
  }

  static make<R>(options: EngineOptions<R>): Effect.Effect<Engine<R>> {
    return Effect.map(
      Effect.all({ commitLock: Effect.makeSemaphore(1), commitSignal: Effect.makeLatch(false) }),
      (locks) => new Engine(options, locks)
    )
  }

  get settings(): ConsumerSettings {
    return this.options.settings
  }

  setSession(session: GroupSession): Effect.Effect<void> {
    this.session = session
    const pending = this.pendingControl
    this.pendingControl = []
    return Effect.forEach(pending, (c) => (c.pause ? session.pause([c.tp]) : session.resume([c.tp])), {
      discard: true
    })
  }

  memberId(): Effect.Effect<string | undefined> {
    return this.session === undefined ? Effect.succeed(undefined) : this.session.memberId
  }

  private publish(event: ConsumerEvent): Effect.Effect<void> {
    return Effect.asVoid(PubSub.publish(this.options.events, event))
  }

  // ---------------------------------------------------------------------------------------
  // The listener the driver calls
  // ---------------------------------------------------------------------------------------

  readonly listener: GroupListener = {
    onAssigned: (partitions) => this.assign(partitions),
    onRevoked: (partitions) => this.revoke(partitions, "revoked"),
    onLost: (partitions) => this.lose(partitions),
    onRecords: (tp, records) => this.receive(tp, records)
  }

  private assign(partitions: ReadonlyArray<PartitionAssignment>): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      if (this.closing) return
      const added: Array<TP.TopicPartition> = []
      for (const assignment of partitions) {
        const tp = assignment.topicPartition
        if (this.workers.has(TP.key(tp))) continue
        const scope = yield* Scope.make()
        const worker = new Worker(
          tp,
          ++this.epochs,
          scope,
          yield* Effect.makeLatch(false),
          yield* Effect.makeLatch(true),
          assignment.committed?.offset ?? -1
        )
        if (assignment.committed !== undefined) {
          worker.committedMetadata = assignment.committed.metadata
          const finished = OffsetMetadata.decode(assignment.committed.offset, assignment.committed.metadata)
          if (finished.length > 0) {
            worker.alreadyFinished = new Set(finished)
            worker.alreadyFinishedMax = finished[finished.length - 1]!
          }
        }
        this.workers.set(worker.key, worker)
        worker.fiber = yield* this.options
          .processor(worker)
          .pipe(Effect.provide(this.options.context), Effect.forkIn(scope))
        added.push(tp)
      }
      if (added.length > 0) {
        yield* this.publish(ConsumerEvent.Assigned({ memberId: yield* this.memberId(), partitions: added }))
      }
    })
  }

  private receive(tp: TP.TopicPartition, records: ReadonlyArray<RawRecord>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const worker = this.workers.get(TP.key(tp))
      // Records of a partition that is leaving (or left) are dropped: the next owner fetches
      // them again from the committed frontier.
      if (worker === undefined || worker.state !== "running") return Effect.void
      let added = 0
      let skipped = 0
      const done = worker.alreadyFinished
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!
        if (!worker.tracker.receive(record.offset)) continue
        if (done?.has(record.offset)) {
          // Finished by an earlier owner (commit metadata): finish it without running it.
          worker.tracker.finish(record.offset)
          skipped++
          continue
        }
        worker.buffer.push(record)
        added++
      }
      if (
        done !== undefined &&
        records.length > 0 &&
        records[records.length - 1]!.offset >= worker.alreadyFinishedMax
      ) {
        worker.alreadyFinished = undefined
      }
      if (skipped > 0) this.onFinished()
      if (added === 0) return Effect.void
      this.totalBuffered += added
      worker.wake.unsafeOpen()
      const counted = recordsReceived(Effect.succeed(added))
      if (
        !worker.paused &&
        (worker.buffer.length >= this.settings.buffer.perPartition ||
          this.totalBuffered >= this.settings.buffer.total ||
          worker.tracker.window() >= this.settings.maxWindow)
      ) {
        return Effect.zipRight(counted, this.pause(worker))
      }
      return Effect.asVoid(counted)
    })
  }

  private control(pause: boolean, tp: TP.TopicPartition): Effect.Effect<void> {
    const session = this.session
    if (session === undefined) {
      this.pendingControl.push({ pause, tp })
      return Effect.void
    }
    return pause ? session.pause([tp]) : session.resume([tp])
  }

  private pause(worker: Worker): Effect.Effect<void> {
    worker.paused = true
    this.pausedWorkers.add(worker)
    return Effect.zipRight(
      this.control(true, worker.topicPartition),
      this.publish(ConsumerEvent.Paused({ partition: worker.topicPartition, buffered: worker.buffer.length }))
    )
  }

  /**
   * Resumes every paused partition whose buffer drained below half its limit, while the
   * total is below half its own. Called after records are taken, so a paused partition is
   * resumed as soon as draining makes room (G6).
   */
  maybeResume(): Effect.Effect<void> {
    if (this.pausedWorkers.size === 0 || this.totalBuffered > this.lowTotal) return Effect.void
    const resumed: Array<Worker> = []
    for (const worker of this.pausedWorkers) {
      if (worker.state !== "running") {
        this.pausedWorkers.delete(worker)
      } else if (worker.buffer.length <= this.lowPerPartition && worker.tracker.window() <= this.lowWindow) {
        worker.paused = false
        this.pausedWorkers.delete(worker)
        resumed.push(worker)
      }
    }
    if (resumed.length === 0) return Effect.void
    return Effect.forEach(
      resumed,
      (worker) =>
        Effect.zipRight(
          this.control(false, worker.topicPartition),
          this.publish(ConsumerEvent.Resumed({ partition: worker.topicPartition, buffered: worker.buffer.length }))
        ),
      { discard: true }
    )
  }

  onFinished(): void {
    if (++this.finishedSinceCommit >= this.settings.commitEvery) this.commitSignal.unsafeOpen()
  }

  fail(error: unknown): void {
    Deferred.unsafeDone(this.options.fatal, Exit.fail(error))
  }

  // ---------------------------------------------------------------------------------------
  // Commits
  // ---------------------------------------------------------------------------------------

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
   * Commits the frontier of `workers`. Must run while holding `commitLock`. Retriable
   * failures are retried with exponential backoff; a failure left after that is reported as
   * an event and not raised: a rebalance or fencing is handled by the revocation that
   * follows it, and anything else is retried at the next commit.
   */
  private commitWorkers(workers: Iterable<Worker>): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const pending = this.pendingOffsets(workers)
      const session = this.session
      if (pending.length === 0 || session === undefined) return Effect.succeed(true)
      const offsets = pending.map((p) => p.offset)
      const retry = Schedule.exponential(this.settings.commitRetryBase).pipe(
        Schedule.intersect(Schedule.recurs(this.settings.commitRetries))
      )
      return session.commit(offsets).pipe(
        Effect.retry({ schedule: retry, while: (error: KafkaError) => error.retriable }),
        Effect.matchEffect({
          onSuccess: () => {
            for (const p of pending) {
              if (p.offset.offset >= p.worker.committed) {
                p.worker.committed = p.offset.offset
                p.worker.committedMetadata = p.offset.metadata ?? ""
              }
            }
            return Effect.as(
              Effect.zipRight(commitsTotal(Effect.succeed(1)), this.publish(ConsumerEvent.Committed({ offsets }))),
              true
            )
          },
          onFailure: (error) =>
            Effect.as(
              Effect.zipRight(
                commitFailures(Effect.succeed(1)),
                Effect.zipRight(
                  Effect.logWarning("Sluice: offset commit failed", error),
                  this.publish(ConsumerEvent.CommitFailed({ offsets, error }))
                )
              ),
              false
            )
        })
      )
    })
  }

  /** Commits the frontier of every owned partition. */
  readonly commitAll: Effect.Effect<void> = Effect.suspend(() => {
    this.finishedSinceCommit = 0
    return this.commitLock.withPermits(1)(Effect.asVoid(this.commitWorkers(this.workers.values())))
  })

  /** Commits by count (`commitEvery`) or by time (`commitInterval`), until interrupted. */
  get committer(): Effect.Effect<never> {
    return Effect.forever(
      Effect.zipRight(
        Effect.raceFirst(Effect.sleep(this.settings.commitInterval), this.commitSignal.await),
        Effect.suspend(() => {
          this.commitSignal.unsafeClose()
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
  commitUpTo(offsets: ReadonlyArray<{ tp: TP.TopicPartition; offset: number; epoch: number }>): Effect.Effect<void> {
    return this.commitLock.withPermits(1)(
      Effect.suspend(() => {
        const touched: Array<Worker> = []
        for (const { epoch, offset, tp } of offsets) {
          const worker = this.workers.get(TP.key(tp))
          if (worker === undefined || worker.epoch !== epoch || worker.state === "closed") continue
          let frontier = worker.tracker.frontier()
          while (frontier !== undefined && frontier < offset && frontier <= worker.tracker.highestReceived()) {
            worker.finish(this, frontier)
            frontier = worker.tracker.frontier()
          }
          touched.push(worker)
        }
        return Effect.asVoid(this.commitWorkers(touched))
      })
    )
  }

  // ---------------------------------------------------------------------------------------
  // Revocation, loss and shutdown
  // ---------------------------------------------------------------------------------------

  revoke(partitions: ReadonlyArray<TP.TopicPartition>, reason: "revoked" | "shutdown"): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      const workers: Array<Worker> = []
      // Partitions whose revocation already runs (a rebalance during a graceful shutdown): this
      // one completes only when that one did, or the next owner would start on records that
      // this member is still draining (G4).
      const leaving: Array<Worker> = []
      for (const tp of partitions) {
        const worker = this.workers.get(TP.key(tp))
        if (worker === undefined) continue
        if (worker.state === "running") workers.push(worker)
        else if (worker.state === "revoking") leaving.push(worker)
      }
      const awaitLeaving = Effect.forEach(leaving, (worker) => worker.released.await, { discard: true })
      if (workers.length === 0) return yield* awaitLeaving
      // Stop dispatch and drop what has not started, for all of them at once, before waiting
      // for any: the drain timeouts then run side by side.
      const dropped = new Map<Worker, number>()
      for (const worker of workers) {
        worker.state = "revoking"
        const count = worker.buffer.clear()
        this.totalBuffered -= count
        dropped.set(worker, count)
        this.pausedWorkers.delete(worker)
        worker.wake.unsafeOpen()
      }
      yield* this.publish(ConsumerEvent.Revoking({ partitions: workers.map((w) => w.topicPartition) }))
      yield* Effect.forEach(
        workers,
        (worker) => Effect.ensuring(this.revokeOne(worker, dropped.get(worker) ?? 0, reason), worker.released.open),
        { concurrency: "unbounded", discard: true }
      )
      yield* awaitLeaving
    })
  }

  private drainTimeout(reason: "revoked" | "shutdown"): Duration.Duration | undefined {
    const strategy = this.settings.revocation
    // A graceful shutdown always drains (G7): it has time, half of its deadline; the other
    // half is for the commits and leaving the group.
    if (reason === "shutdown") {
      const half = Duration.millis(Duration.toMillis(this.settings.shutdownTimeout) / 2)
      return strategy._tag === "drain" ? Duration.min(strategy.drainTimeout, half) : half
    }
    return strategy._tag === "drain" ? strategy.drainTimeout : undefined
  }

  private revokeOne(worker: Worker, dropped: number, reason: "revoked" | "shutdown"): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      const started = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      const timeout = this.drainTimeout(reason)
      let interrupted = false
      if (timeout !== undefined && worker.inFlight > 0) {
        // Interruptible: the shutdown runs this in a finalizer, where the wait would otherwise
        // inherit uninterruptibility and the timeout could never cut it short.
        const drained = yield* Effect.timeoutOption(Effect.interruptible(worker.idle.await), timeout)
        interrupted = Option.isNone(drained)
      } else {
        interrupted = worker.inFlight > 0
      }
      // Interruption runs the finalizers of the work in flight and waits for them (G4).
      if (worker.fiber !== undefined) yield* Fiber.interrupt(worker.fiber)
      yield* this.commitLock.withPermits(1)(
        Effect.suspend(() =>
          Effect.zipRight(
            this.commitWorkers([worker]),
            Effect.sync(() => {
              worker.state = "closed"
              this.workers.delete(worker.key)
            })
          )
        )
      )
      yield* Scope.close(worker.scope, Exit.void)
      const ended = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      yield* revocationMillis(Effect.succeed(ended - started))
      yield* this.publish(
        ConsumerEvent.Revoked({
          partition: worker.topicPartition,
          dropped,
          interrupted,
          committed: worker.committed < 0 ? undefined : worker.committed,
          millis: ended - started
        })
      )
    })
  }

  private lose(partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      const lost: Array<Worker> = []
      // Removed under the lock first, so that no commit can name them from here on (G2).
      yield* this.commitLock.withPermits(1)(
        Effect.sync(() => {
          for (const tp of partitions) {
            const worker = this.workers.get(TP.key(tp))
            if (worker === undefined || worker.state === "closed") continue
            worker.state = "closed"
            this.workers.delete(worker.key)
            this.totalBuffered -= worker.buffer.clear()
            this.pausedWorkers.delete(worker)
            worker.wake.unsafeOpen()
            lost.push(worker)
          }
        })
      )
      if (lost.length === 0) return
      yield* Effect.forEach(
        lost,
        (worker) =>
          Effect.zipRight(
            worker.fiber === undefined ? Effect.void : Fiber.interrupt(worker.fiber),
            Scope.close(worker.scope, Exit.void)
          ),
        { concurrency: "unbounded", discard: true }
      )
      yield* this.publish(ConsumerEvent.Lost({ partitions: lost.map((w) => w.topicPartition) }))
    })
  }

  /** Graceful shutdown: drain every partition, commit their frontiers, within the deadline. */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.closing = true
    const all = Array.from(this.workers.values(), (w) => w.topicPartition)
    // Interruptible so that the deadline holds even in the finalizer it runs in: past it, the
    // revocation is abandoned (an interrupted commit is harmless: it named a valid frontier).
    return Effect.interruptible(this.revoke(all, "shutdown")).pipe(
      Effect.timeoutOption(this.settings.shutdownTimeout),
      Effect.flatMap((done) =>
        Option.isNone(done)
          ? Effect.logWarning("Sluice: shutdown did not finish within shutdownTimeout; in-flight work was abandoned")
          : Effect.void
      )
    )
  })
}

/** The processor of `Consumer.run`: records one at a time, in offset order (`partition` mode). */
export const handlerProcessor =
  <E, R>(
    engine: () => Engine<R>,
    handle: (record: RawRecord) => Effect.Effect<void, E, R>,
    onFailure: (record: RawRecord, cause: Cause.Cause<E>) => unknown
  ): Processor<R> =>
  (worker) =>
    Effect.gen(function* () {
      const self = engine()
      // One failure handler per worker, not one closure per record: this is the hot path.
      let current: RawRecord | undefined
      let failed = false
      const onCause = (cause: Cause.Cause<E>) =>
        Effect.sync(() => {
          // The record stays unfinished, so the frontier stops at it and no commit passes it.
          failed = true
          worker.abandon()
          self.fail(onFailure(current!, cause))
        })
      while (worker.state === "running") {
        const record = worker.take(self)
        if (record === undefined) {
          yield* worker.waitForRecords()
          continue
        }
        if (self.pausedWorkers.size > 0) yield* self.maybeResume()
        current = record
        yield* Effect.catchAllCause(handle(record), onCause)
        if (failed) return
        worker.finish(self, record.offset)
      }
    }).pipe(
      // Interrupted (revocation, loss) with a record in flight: it ends unfinished, so that
      // nothing waits on it. Once per worker, not per record: `onInterrupt` costs more than a
      // no-op handler.
      Effect.onInterrupt(() => Effect.sync(() => worker.inFlight > 0 && worker.abandon()))
    )

export const squashCause = <E>(cause: Cause.Cause<E>): unknown =>
  Option.getOrElse(Cause.failureOption(cause), () => Cause.squash(cause))
