/**
 * The narrow interface between the engine and its processors. A processor runs one
 * partition's records (`Processor`); everything it may do besides reading its worker goes
 * through the `Flow` the engine hands it: take a record, resume drained partitions, finish or
 * abandon a record, stop the consumer, commit (the stream API). It never reaches the engine's
 * other state, and the engine needs nothing of the processor but the effect it returns.
 *
 * Processors read a worker's `state`, `inFlight`, `topicPartition`, `epoch` and use its `wake` (`arrivals.ts`)
 * latch; they mutate it only through the `Flow`. Every `Flow` call is synchronous and does its
 * whole step before returning (see `engine.ts`), except the effects it returns.
 */
import * as Deferred from "effect/Deferred"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { Committer as StreamCommitter } from "../CommittableRecord.js"
import type { RawRecord } from "../ConsumerRecord.js"
import type { Backpressure } from "./backpressure.js"
import type { Committer } from "./committer.js"
import type { PartitionTransactions } from "./transactional.js"
import type { Worker } from "./worker.js"

/** How a worker consumes its partition's records: a handler loop, lanes, or a user's stream. */
export type Processor<R> = (worker: Worker, flow: Flow) => Effect.Effect<void, never, R>

export interface Flow {
  /** Takes the next buffered record of `worker`, now in flight, or `undefined` when none is buffered. */
  take(worker: Worker): RawRecord | undefined
  /** Whether a paused partition drained enough to resume: only then is `resume` worth running. Cheap: check it per record. */
  readonly resumable: boolean
  /** Resumes the paused partitions that drained enough (G6); run it after taking records. */
  resume(): Effect.Effect<void>
  /** The in-flight record at `offset` succeeded (or was settled): a commit may pass it. */
  finish(worker: Worker, offset: number): void
  /** The in-flight record ends unfinished (it failed, or never started): no commit passes it. */
  abandon(worker: Worker): void
  /**
   * The records of `worker` in flight are held by a reader that is gone (a stream that ended):
   * a revocation or shutdown need not wait for them. They stay unfinished; a commit may still
   * pass them until the partition is removed.
   */
  orphan(worker: Worker): void
  /** Stops the consumer with `error`, after the shutdown commits what finished. */
  fail(error: unknown): void
  /** The stream API's commit: finishes the offsets below each given one and commits them now. */
  readonly commitUpTo: StreamCommitter
  /** Makes `worker` an exactly-once partition: committed only in its transactions (`transactional.ts`). */
  transactional(worker: Worker, transaction: PartitionTransactions): void
  /** Commits `worker`'s frontier now, under the commit lock (an exactly-once partition's transaction). */
  commitNow(worker: Worker): Effect.Effect<void>
}

/** The engine's `Flow`: backpressure for taking, the committer for finishing, `fatal` for failing. */
export class EngineFlow implements Flow {
  readonly commitUpTo: StreamCommitter

  constructor(
    private readonly backpressure: Backpressure,
    private readonly committer: Committer,
    /** Failing it stops the consumer. */
    private readonly fatal: Deferred.Deferred<never, unknown>
  ) {
    this.commitUpTo = committer.commitUpTo
  }

  take(worker: Worker): RawRecord | undefined {
    return this.backpressure.take(worker)
  }

  get resumable(): boolean {
    return this.backpressure.resumable
  }

  resume(): Effect.Effect<void> {
    return this.backpressure.resume()
  }

  finish(worker: Worker, offset: number): void {
    if (worker.finish(offset)) this.committer.onFinished()
  }

  abandon(worker: Worker): void {
    worker.abandon()
  }

  orphan(worker: Worker): void {
    worker.orphan()
  }

  fail(error: unknown): void {
    Deferred.unsafeDone(this.fatal, Exit.fail(error))
  }

  transactional(worker: Worker, transaction: PartitionTransactions): void {
    worker.transaction = transaction
  }

  commitNow(worker: Worker): Effect.Effect<void> {
    return this.committer.commitOne(worker)
  }
}
