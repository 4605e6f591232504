/**
 * The engine: one worker per assigned partition (`worker.ts`), each running a processor
 * (`processors/`) that takes and finishes records through the `Flow` it is handed (`flow.ts`);
 * backpressure (`backpressure.ts`), one committer (`committer.ts`) and the revocation protocol
 * (`revocation.ts`) that ties them together. This module assembles them and is the listener the
 * driver calls: assignment and delivery happen here.
 *
 * Invariants that keep the mutable classes safe:
 * - No yield inside a step. Everything that touches the worker map, the buffers, the trackers
 *   and the counters runs synchronously between two yields, so JavaScript's single thread makes
 *   each such step atomic. A step that has to wait returns an effect and changes nothing after
 *   it started waiting.
 * - One commit lock (`Committer.lock`). Commits build their offsets and record their results
 *   holding it; revocation and loss remove a partition holding it. That is what makes "never
 *   commit a partition after its revocation completed" hold (G2).
 * - One writer per piece of state. The engine adds workers (assignment) and appends to their
 *   buffers (delivery); revocation alone removes them, under the lock; backpressure owns the
 *   buffered count and the paused set; the committer owns the count of finished records and
 *   writes a worker's `committed`; processors change a worker only through their `Flow`.
 *   `worker.ts` lists who may mutate each field of a worker.
 */
import type * as Context from "effect/Context"
import type * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as PubSub from "effect/PubSub"
import * as Scope from "effect/Scope"
import type { GroupListener, GroupSession, PartitionAssignment } from "../ConsumerDriver.js"
import { ConsumerEvent } from "../ConsumerEvent.js"
import type { RawRecord } from "../ConsumerRecord.js"
import type { ConsumerSettings } from "../ConsumerSettings.js"
import * as OffsetMetadata from "../OffsetMetadata.js"
import * as OffsetStore from "../OffsetStore.js"
import * as TP from "../TopicPartition.js"
import { Arrivals } from "./arrivals.js"
import { Backpressure } from "./backpressure.js"
import { Committer } from "./committer.js"
import { EngineFlow, type Flow, type Processor } from "./flow.js"
import * as Metrics from "./metrics.js"
import { StoreClaims, unclaimed } from "./offsetStore.js"
import { Revocation } from "./revocation.js"
import { SessionHandle } from "./session.js"
import * as Tracing from "./tracing.js"
import { Worker } from "./worker.js"

export interface EngineOptions<R> {
  readonly settings: ConsumerSettings
  /** The member's group: the run's, which may override the settings'. */
  readonly groupId: string
  readonly processor: Processor<R>
  readonly context: Context.Context<R>
  readonly events: PubSub.PubSub<ConsumerEvent>
  /** Failing it stops the consumer (after the shutdown commits). */
  readonly fatal: Deferred.Deferred<never, unknown>
  /** Positions kept in an external store (G10): claimed at assignment, started from there. */
  readonly offsetStore?: OffsetStore.Service | undefined
  /**
   * Partitions the engine stops processing on its own while the group still counts them as
   * this member's (their transactional producer could not commit): the health marks them.
   */
  readonly abandoned?: ((partitions: ReadonlyArray<TP.TopicPartition>) => Effect.Effect<void>) | undefined
  /** What to do for partitions about to be assigned, before their committed offsets are read (`GroupListener.prepare`). */
  readonly prepare?: ((partitions: ReadonlyArray<TP.TopicPartition>) => Effect.Effect<void, never, R>) | undefined
}

export class Engine<R> {
  /** The owned partitions' workers by `TopicPartition.key`: added here, removed by revocation. */
  private readonly workers = new Map<string, Worker>()
  private epochs = 0
  /** Set by the shutdown: assignments after it are ignored. */
  private closing = false
  private readonly session = new SessionHandle()
  private readonly publish: Metrics.Publish
  /** The metrics' reporting, `undefined` when `settings.metrics` is off. */
  private readonly metrics: Metrics.EngineMetrics | undefined
  private readonly backpressure: Backpressure
  private readonly committer: Committer
  private readonly revocation: Revocation
  /** What the processors get of the engine. */
  private readonly flow: Flow
  /** The external offset store's claims, when positions are kept there. */
  private readonly claims: StoreClaims | undefined

  private constructor(private readonly options: EngineOptions<R>) {
    const settings = options.settings
    this.publish = Metrics.publisher(options.events)
    this.metrics = settings.metrics ? new Metrics.EngineMetrics(options.groupId) : undefined
    this.backpressure = new Backpressure(settings, this.session, this.publish)
    this.committer = new Committer(
      settings,
      options.groupId,
      this.workers,
      this.session,
      this.publish,
      this.metrics,
      (partitions) =>
        options.abandoned === undefined
          ? this.revocation.lose(partitions)
          : Effect.zipRight(options.abandoned(partitions), this.revocation.lose(partitions))
    )
    this.revocation = new Revocation(
      settings,
      this.workers,
      this.backpressure,
      this.committer,
      this.publish,
      this.metrics
    )
    this.flow = new EngineFlow(this.backpressure, this.committer, options.fatal)
    this.claims =
      options.offsetStore === undefined
        ? undefined
        : new StoreClaims(options.offsetStore, options.groupId, options.fatal)
    const prepare = options.prepare
    if (prepare !== undefined) {
      this.listener = {
        ...this.listener,
        // Never for a partition this engine runs: opening its producer again would fence its own.
        prepare: (partitions) =>
          prepare(partitions.filter((tp) => !this.workers.has(TP.key(tp)))).pipe(
            Effect.provide(options.context),
            Effect.withSpan(
              "Consumer.prepare",
              Tracing.engineSpan(options.groupId, "prepare", {
                "sluice.partitions": Tracing.partitionsAttribute(partitions)
              })
            )
          )
      }
    }
    if (this.claims !== undefined) {
      const claims = this.claims
      this.listener = {
        ...this.listener,
        positions: (partitions) => claims.positions(partitions, (key) => this.workers.has(key)),
        onRecords: (tp, records, logEnd) => this.receive(tp, claims.deliverable(tp, records), logEnd)
      }
    }
  }

  static make<R>(options: EngineOptions<R>): Effect.Effect<Engine<R>> {
    return Effect.sync(() => new Engine(options))
  }

  /** Hands over the driver's session; pause and resume requests made before it are replayed. */
  setSession(session: GroupSession): Effect.Effect<void> {
    return this.session.set(session)
  }

  /** Reports the partitions' metrics every `metricsInterval`, until interrupted: fork it beside the session. */
  get reporting(): Effect.Effect<void> {
    const metrics = this.metrics
    if (metrics === undefined) return Effect.void
    return Effect.forever(
      Effect.zipRight(
        Effect.sleep(this.options.settings.metricsInterval),
        Effect.sync(() => {
          for (const worker of this.workers.values()) metrics.report(worker)
        })
      )
    )
  }

  /** Commits by count or by time, until interrupted: fork it beside the session. */
  get committing(): Effect.Effect<never> {
    return this.committer.periodically
  }

  // ---------------------------------------------------------------------------------------
  // The listener the driver calls
  // ---------------------------------------------------------------------------------------

  readonly listener: GroupListener = {
    onAssigned: (partitions) =>
      this.assign(partitions).pipe(
        Effect.withSpan(
          "Consumer.assign",
          Tracing.engineSpan(this.options.groupId, "assign", {
            "sluice.partitions": Tracing.partitionsAttribute(partitions.map((p) => p.topicPartition))
          })
        )
      ),
    onRevoked: (partitions) =>
      this.revocation.revoke(partitions, "revoked").pipe(
        Effect.withSpan(
          "Consumer.revoke",
          Tracing.engineSpan(this.options.groupId, "revoke", {
            "sluice.partitions": Tracing.partitionsAttribute(partitions)
          })
        )
      ),
    onLost: (partitions) =>
      this.revocation.lose(partitions).pipe(
        Effect.withSpan(
          "Consumer.lose",
          Tracing.engineSpan(this.options.groupId, "lose", {
            "sluice.partitions": Tracing.partitionsAttribute(partitions)
          })
        )
      ),
    onRecords: (tp, records, logEnd) => this.receive(tp, records, logEnd)
  }

  private assign(partitions: ReadonlyArray<PartitionAssignment>): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      this.metrics?.rebalanceEnds()
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
          new Arrivals(),
          assignment.committed?.offset ?? -1,
          this.metrics === undefined ? undefined : Metrics.partitionLabels(this.options.groupId, tp)
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
        this.metrics?.assigned(worker)
        worker.fiber = yield* this.options
          .processor(worker, this.flow)
          .pipe(Effect.provide(this.options.context), (run) => this.owned(worker, run), Effect.forkIn(scope))
        added.push(tp)
      }
      if (added.length > 0) {
        yield* this.publish(ConsumerEvent.Assigned({ memberId: yield* this.session.memberId(), partitions: added }))
      }
    })
  }

  /** With an offset store, the worker's handlers run as the owner of its claim (or nothing runs). */
  private owned(worker: Worker, run: Effect.Effect<void>): Effect.Effect<void> {
    if (this.claims === undefined) return run
    const claim = this.claims.take(worker.key)
    if (claim === undefined) return Effect.sync(() => this.flow.fail(unclaimed(worker.topicPartition)))
    const owner: OffsetStore.Owner = { claim, frontier: () => worker.tracker.frontier() }
    return Effect.locally(run, OffsetStore.currentOwner, Option.some(owner))
  }

  private receive(
    tp: TP.TopicPartition,
    records: ReadonlyArray<RawRecord>,
    logEnd: number | undefined
  ): Effect.Effect<void> {
    return Effect.suspend(() => {
      const worker = this.workers.get(TP.key(tp))
      // Records of a partition that is leaving (or left) are dropped: the next owner fetches
      // them again from the committed frontier.
      if (worker === undefined || worker.state !== "running") return Effect.void
      if (logEnd !== undefined && logEnd > worker.logEnd) worker.logEnd = logEnd
      const done = worker.alreadyFinished
      let added = 0
      let skipped = 0
      const count = records.length
      if (
        done === undefined &&
        count > 0 &&
        records[count - 1]!.offset - records[0]!.offset === count - 1 &&
        worker.tracker.receiveRun(records[0]!.offset, count)
      ) {
        // The common case: new offsets without a gap (the driver delivers each offset once, in
        // increasing order, so the first and last tell), queued as delivered, no record read.
        worker.buffer.pushAll(records)
        added = count
      } else {
        const accepted: Array<RawRecord> = []
        for (let i = 0; i < count; i++) {
          const record = records[i]!
          if (!worker.tracker.receive(record.offset)) continue
          if (done?.has(record.offset)) {
            // Finished by an earlier owner (commit metadata): finish it without running it.
            worker.tracker.finish(record.offset)
            skipped++
            continue
          }
          accepted.push(record)
        }
        worker.buffer.pushAll(accepted)
        added = accepted.length
      }
      if (done !== undefined && count > 0 && records[count - 1]!.offset >= worker.alreadyFinishedMax) {
        worker.alreadyFinished = undefined
      }
      if (skipped > 0) this.committer.onFinished()
      if (added === 0) return Effect.void
      const mustPause = this.backpressure.added(worker, added)
      // One reader: a keyed or unordered lane that takes a record wakes the next while records
      // remain (concurrent.ts), so the lanes woken follow the records actually waiting.
      worker.wake.arrived(1)
      if (worker.labels !== undefined) Metrics.recordsReceived.unsafeUpdate(added, worker.labels)
      return mustPause ? this.backpressure.pause(worker) : Effect.void
    })
  }

  /** Graceful shutdown: drain every partition, commit their frontiers, within the deadline. */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.closing = true
    const partitions = Array.from(this.workers.values(), (w) => w.topicPartition)
    return this.revocation.shutdown(partitions).pipe(
      Effect.withSpan(
        "Consumer.shutdown",
        Tracing.engineSpan(this.options.groupId, "shutdown", {
          "sluice.partitions": Tracing.partitionsAttribute(partitions)
        })
      )
    )
  })
}
