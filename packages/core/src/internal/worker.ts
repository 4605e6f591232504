/**
 * One assigned partition: its buffer, its offset tracker, the records in flight, its last
 * commit, and the fiber and scope its processor runs in. The engine makes one per assignment
 * (each with a new `epoch`) and forgets it once revocation or loss removed it.
 *
 * A worker is plain mutable state, safe because every step that touches it runs synchronously
 * between two yields (see `engine.ts`). Who may mutate what:
 * - `buffer`: the engine appends what the driver delivers; backpressure takes from it and
 *   clears it (revocation, loss).
 * - `tracker`: the engine receives offsets; `finish` finishes them (processors through their
 *   `Flow`, the committer for the stream API's `commitUpTo`).
 * - `inFlight` and `orphaned`: `begin` (backpressure, when a record is taken), `finish` and
 *   `abandon` (processors through their `Flow`, the committer); `orphan` (the stream processor
 *   through its `Flow`, once the stream's reader is gone). `whenIdle` reads them (revocation).
 * - `paused`: backpressure. `state`: revocation and loss; processors only read it.
 * - `committed`, `committedMetadata`: the committer, holding the commit lock (and the engine
 *   before the worker is registered).
 * - `alreadyFinished`, `fiber`, `logEnd`: the engine, at assignment and delivery.
 * - `finishedSinceReport` and the sample: `begin` and `finish`; `EngineMetrics.report` resets
 *   the count (metrics.ts).
 * - `transaction`: the exactly-once processor through its `Flow`, once, before it takes a record.
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as OffsetMetadata from "../OffsetMetadata.js"
import { OffsetTracker } from "../OffsetTracker.js"
import * as TP from "../TopicPartition.js"
import type { Arrivals } from "./arrivals.js"
import * as Metrics from "./metrics.js"
import { RecordQueue } from "./recordQueue.js"
import type { PartitionTransactions } from "./transactional.js"

/** One record in this many is timed for `sluice_handler_duration_seconds`. */
const sampleEvery = 64

/** `running` until a revocation starts (`revoking`); `closed` once removed from the engine. */
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
  /** The records in flight are held by a reader that is gone (`orphan`), until the next `begin`. */
  private orphaned = false
  /**
   * What `whenIdle` callers wait on, made only while someone waits: a latch opened and closed
   * for every record would cost an allocation per record on the hot path.
   */
  private idleWaiters: Effect.Latch | undefined = undefined
  /** The partition's log-end offset at the last fetch, when the driver tells it (-1: unknown). */
  logEnd = -1
  /** Records finished since the metrics last reported them. */
  finishedSinceReport = 0
  /** Records to take before the next one is timed (`Infinity`: metrics off), and the one being timed. */
  private sampleIn: number
  private sampleOffset = -1
  private sampleStart = 0
  /** An exactly-once pipeline's partition: committed in transactions, never through the group session. */
  transaction: PartitionTransactions | undefined = undefined
  /** Opened when the worker's revocation (or shutdown) has ended: its work and final commit are done. */
  readonly released: Effect.Latch = Effect.unsafeMakeLatch(false)

  constructor(
    readonly topicPartition: TP.TopicPartition,
    readonly epoch: number,
    readonly scope: Scope.CloseableScope,
    /** What the processor's fibers park on until records arrive or the worker must stop. */
    readonly wake: Arrivals,
    committed: number,
    /** Tags of this partition's metrics; `undefined` when metrics are off. */
    readonly labels: Metrics.Labels | undefined
  ) {
    this.key = TP.key(topicPartition)
    this.committed = committed
    this.sampleIn = labels === undefined ? Number.POSITIVE_INFINITY : 1
    this.recordsOrStop = wake.parker(() => this.buffer.length > 0 || this.state !== "running")
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

  /**
   * The record at `offset`, taken from the buffer, is now in flight. One in `sampleEvery` is
   * timed until it finishes: reading the clock for every record would cost more than a no-op
   * handler.
   */
  begin(offset: number): void {
    this.inFlight++
    this.orphaned = false
    if (--this.sampleIn === 0) {
      this.sampleIn = sampleEvery
      this.sampleOffset = offset
      this.sampleStart = Metrics.seconds()
    }
  }

  /** Marks an in-flight offset finished; `true` when it was not finished before (a commit may now pass it). */
  finish(offset: number): boolean {
    if (--this.inFlight === 0 && this.idleWaiters !== undefined) this.releaseIdleWaiters()
    this.finishedSinceReport++
    if (offset === this.sampleOffset) {
      this.sampleOffset = -1
      Metrics.handlerDuration.unsafeUpdate(Metrics.seconds() - this.sampleStart, this.labels!)
    }
    return this.tracker.finish(offset)
  }

  /** Ends one in-flight record without finishing it (it failed, or never started): the frontier stays at it. */
  abandon(): void {
    if (--this.inFlight === 0 && this.idleWaiters !== undefined) this.releaseIdleWaiters()
  }

  /** Nothing will finish the records in flight (their reader is gone): whoever waits for them, need not. */
  orphan(): void {
    this.orphaned = true
    if (this.idleWaiters !== undefined) this.releaseIdleWaiters()
  }

  /** Waits until nothing is in flight (or what is in flight is orphaned): revocation in drain mode. */
  whenIdle(): Effect.Effect<void> {
    if (this.inFlight === 0 || this.orphaned) return Effect.void
    this.idleWaiters ??= Effect.unsafeMakeLatch(false)
    return this.idleWaiters.await
  }

  private releaseIdleWaiters(): void {
    this.idleWaiters!.unsafeOpen()
    this.idleWaiters = undefined
  }

  /** Waits until records arrive or the worker must stop. */
  waitForRecords(): Effect.Effect<void> {
    return this.recordsOrStop
  }
  private readonly recordsOrStop: Effect.Effect<void>
}
