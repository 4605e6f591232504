/**
 * Revocation, loss and shutdown: how a partition leaves this member.
 *
 * A revocation (and a graceful shutdown, which is a revocation of everything) stops dispatch,
 * drops what has not started, drains (up to the drain timeout) or interrupts what runs, waits
 * for the work's finalizers (G4), commits the final frontier and removes the partition — the
 * commit and the removal inside the one commit lock, so nothing is committed for the partition
 * after its revocation completed (G2) — then closes its scope. A lost partition is removed
 * under the lock first and never committed; its work is interrupted.
 *
 * Owns the losses still under way (a graceful shutdown waits for them). Touches a worker's `state` (`revoking`, `closed`), its fiber and
 * scope, and the engine's worker map: removing a worker is done here and only here, always
 * holding the commit lock.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { ConsumerEvent } from "../ConsumerEvent.js"
import type { ConsumerSettings } from "../ConsumerSettings.js"
import * as TP from "../TopicPartition.js"
import type { Backpressure } from "./backpressure.js"
import type { Committer } from "./committer.js"
import * as Metrics from "./metrics.js"
import type { Worker } from "./worker.js"

export type Reason = "revoked" | "shutdown"

export class Revocation {
  /** Losses whose work is still being interrupted: a shutdown completes only after them (G8). */
  private readonly losing = new Set<Deferred.Deferred<void>>()

  constructor(
    private readonly settings: ConsumerSettings,
    private readonly workers: Map<string, Worker>,
    private readonly backpressure: Backpressure,
    private readonly committer: Committer,
    private readonly publish: Metrics.Publish,
    private readonly metrics: Metrics.EngineMetrics | undefined
  ) {}

  revoke(partitions: ReadonlyArray<TP.TopicPartition>, reason: Reason): Effect.Effect<void> {
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
      if (reason === "revoked") this.metrics?.rebalanceBegins()
      // Stop dispatch and drop what has not started, for all of them at once, before waiting
      // for any: the drain timeouts then run side by side.
      const dropped = new Map<Worker, number>()
      for (const worker of workers) {
        worker.state = "revoking"
        dropped.set(worker, this.backpressure.drop(worker))
        worker.wake.wakeAll()
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

  private drainTimeout(reason: Reason): Duration.Duration | undefined {
    const strategy = this.settings.revocation
    // A graceful shutdown always drains (G7): it has time, half of its deadline; the other
    // half is for the commits and leaving the group.
    if (reason === "shutdown") {
      const half = Duration.millis(Duration.toMillis(this.settings.shutdownTimeout) / 2)
      return strategy._tag === "Drain" ? Duration.min(strategy.drainTimeout, half) : half
    }
    return strategy._tag === "Drain" ? Duration.decode(strategy.drainTimeout) : undefined
  }

  private revokeOne(worker: Worker, dropped: number, reason: Reason): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      const started = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      const timeout = this.drainTimeout(reason)
      let interrupted = false
      if (timeout !== undefined && worker.inFlight > 0) {
        // Interruptible: the shutdown runs this in a finalizer, where the wait would otherwise
        // inherit uninterruptibility and the timeout could never cut it short.
        const drained = yield* Effect.timeoutOption(Effect.interruptible(worker.whenIdle()), timeout)
        interrupted = Option.isNone(drained)
      } else {
        interrupted = worker.inFlight > 0
      }
      // Interruption runs the finalizers of the work in flight and waits for them (G4).
      if (worker.fiber !== undefined) yield* Fiber.interrupt(worker.fiber)
      const throughRebalance = reason === "shutdown" ? yield* this.shutdownCommitWindow : undefined
      yield* this.committer.lock.withPermits(1)(
        Effect.suspend(() =>
          Effect.zipRight(
            this.committer.commitWorkers([worker], throughRebalance),
            Effect.sync(() => {
              worker.state = "closed"
              this.workers.delete(worker.key)
              this.metrics?.left(worker)
            })
          )
        )
      )
      yield* Scope.close(worker.scope, Exit.void)
      const ended = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      if (this.metrics !== undefined) Metrics.revocationMillis.unsafeUpdate(ended - started, this.metrics.group)
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

  /**
   * How long a graceful shutdown's last commit of a partition retries a refusal for a rebalance
   * (a member joining or leaving meanwhile): a quarter of the shutdown's deadline from the
   * commit's start. The drain had at most half of it, and a quarter stays for leaving the group.
   */
  private readonly shutdownCommitWindow: Effect.Effect<Effect.Effect<boolean>> = Effect.clockWith((clock) =>
    Effect.map(clock.currentTimeMillis, (start) => {
      const until = start + Duration.toMillis(this.settings.shutdownTimeout) / 4
      return Effect.map(clock.currentTimeMillis, (now) => now < until)
    })
  )

  lose(partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      const lost: Array<Worker> = []
      // Told first, so that a commit in flight naming them stops retrying instead of holding the lock.
      const losing: Array<Worker> = []
      for (const tp of partitions) {
        const worker = this.workers.get(TP.key(tp))
        if (worker !== undefined) losing.push(worker)
      }
      for (const worker of losing) this.committer.losing.add(worker)
      // Removed under the lock first, so that no commit can name them from here on (G2).
      yield* this.committer.lock
        .withPermits(1)(
          Effect.sync(() => {
            for (const tp of partitions) {
              const worker = this.workers.get(TP.key(tp))
              if (worker === undefined || worker.state === "closed") continue
              worker.state = "closed"
              this.workers.delete(worker.key)
              this.backpressure.drop(worker)
              this.metrics?.left(worker)
              worker.wake.wakeAll()
              lost.push(worker)
            }
          })
        )
        .pipe(
          Effect.ensuring(
            Effect.sync(() => {
              for (const worker of losing) this.committer.losing.delete(worker)
            })
          )
        )
      if (lost.length === 0) return
      this.metrics?.rebalanceBegins()
      // The workers are out of the map already: a shutdown starting meanwhile would not see
      // them, and would let the member leave while their handlers still run.
      const done = Deferred.unsafeMake<void>(FiberId.none)
      this.losing.add(done)
      yield* Effect.forEach(
        lost,
        (worker) =>
          Effect.zipRight(
            worker.fiber === undefined ? Effect.void : Fiber.interrupt(worker.fiber),
            Scope.close(worker.scope, Exit.void)
          ),
        { concurrency: "unbounded", discard: true }
      ).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            this.losing.delete(done)
            Deferred.unsafeDone(done, Exit.void)
          })
        )
      )
      yield* this.publish(ConsumerEvent.Lost({ partitions: lost.map((w) => w.topicPartition) }))
    })
  }

  /** Graceful shutdown: drain every partition, commit their frontiers, within the deadline. */
  shutdown(partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> {
    // Interruptible so that the deadline holds even in the finalizer it runs in: past it, the
    // revocation is abandoned (an interrupted commit is harmless: it named a valid frontier).
    const losses = Effect.suspend(() => Effect.forEach(Array.from(this.losing), Deferred.await, { discard: true }))
    return Effect.interruptible(Effect.zipRight(losses, this.revoke(partitions, "shutdown"))).pipe(
      Effect.timeoutOption(this.settings.shutdownTimeout),
      Effect.flatMap((done) =>
        Option.isNone(done)
          ? Effect.logWarning("Sluice: shutdown did not finish within shutdownTimeout; in-flight work was abandoned")
          : Effect.void
      )
    )
  }
}
