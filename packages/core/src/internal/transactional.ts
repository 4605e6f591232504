/**
 * Exactly-once pipelines (`Pipeline.exactlyOnce`, G10): the records a pipeline's handler
 * produces and the partition's consumed offsets are committed in one Kafka transaction.
 *
 * How it fits the engine, which stays at-least-once everywhere else:
 * - Per partition, a `PartitionTransactions` (registered on the worker through the `Flow`) owns
 *   the partition's transactional producer, opened before the partition's first record (the
 *   open fences every former owner's producer and reads the committed offset after that, so a
 *   zombie's last transaction is settled before this owner decides where it stands). A driver
 *   that reads committed offsets with `require_stable` asks for it earlier, before that read
 *   (`GroupListener.prepare`, `Preopened`): otherwise a crashed owner's open transaction would
 *   hold the read until it timed out.
 * - The handler's `Producer` is a collector: what it sends is kept per record (`outputs`, by
 *   offset), never sent at once. A failed attempt's sends are dropped (`attempt`), a dead
 *   letter is kept like any output.
 * - The committer commits a transactional worker's frontier by calling `commit` here instead of
 *   the group session: the transaction holds the outputs of every record the frontier passes
 *   and of the finished ones above it (named in the offset metadata, as G7's commits do), so
 *   keyed and unordered modes work with the commit frontier unchanged. Commits still run under
 *   the one commit lock: revocation's final commit and loss keep G2.
 * - When to commit is the pipeline's: `size` records or `within` after the last commit, by a
 *   loop beside the partition's processor (`trigger`); the committer's periodic commit skips
 *   transactional workers.
 * - A fenced producer (the partition moved on, or the broker aborted the transaction) means the
 *   partition is lost: nothing more is committed for it, and the next owner redoes the work from
 *   the committed offsets. A clean, retriable abort is retried with the same outputs.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { OffsetAndMetadata } from "../ConsumerDriver.js"
import type { RawRecord } from "../ConsumerRecord.js"
import * as KafkaError from "../KafkaError.js"
import * as OffsetMetadata from "../OffsetMetadata.js"
import * as Producer from "../Producer.js"
import { ProducerDriver, type ProducerRecord, type RecordMetadata } from "../ProducerDriver.js"
import * as TP from "../TopicPartition.js"
import {
  type TransactionalProducer,
  TransactionalProducerDriver,
  type TransactionError
} from "../TransactionalProducerDriver.js"
import type { Flow, Processor } from "./flow.js"
import type { Worker } from "./worker.js"

/** A pipeline's checked exactly-once options. */
export interface Resolved {
  readonly size: number
  readonly within: Duration.Duration
  readonly transactionalIdPrefix: string
}

/** The outputs of the record being handled on this fiber (undefined outside a transactional pipeline). */
const currentOutputs = FiberRef.unsafeMake<Array<ProducerRecord> | undefined>(undefined)

/** The transactional state of the partition whose processor runs on this fiber. */
const currentPartition = FiberRef.unsafeMake<PartitionTransactions | undefined>(undefined)

/**
 * A pipeline's processing of one record in an exactly-once pipeline: skipped when an earlier
 * owner's transaction committed it, else run with its sends kept for the partition's transaction.
 */
export const handle =
  <E, R>(process: (raw: RawRecord) => Effect.Effect<void, E, R>) =>
  (raw: RawRecord): Effect.Effect<void, E, R> =>
    Effect.flatMap(FiberRef.get(currentPartition), (tx) =>
      tx === undefined
        ? process(raw)
        : tx.run(
            raw,
            Effect.suspend(() => process(raw))
          )
    )

/** What the handler's `Producer` answers for a record kept for the transaction: not sent yet, no offset. */
const unsent = (record: ProducerRecord): RecordMetadata => ({
  topic: record.topic,
  partition: record.partition ?? -1,
  offset: -1
})

/** A `ProducerDriver` that keeps what is sent with the record being handled. */
const collectingDriver: ProducerDriver["Type"] = {
  name: "transaction",
  send: (records) =>
    Effect.flatMap(FiberRef.get(currentOutputs), (outputs) => {
      if (outputs === undefined) {
        return Effect.fail(
          KafkaError.make({
            reason: "protocol",
            operation: "Producer.send",
            message: "an exactly-once pipeline's Producer sends only from within its handler"
          })
        )
      }
      for (const record of records) outputs.push(record)
      return Effect.succeed(records.map(unsent))
    }),
  flush: Effect.void
}

/** The `Producer` an exactly-once pipeline's handler and error policy see. */
const collector: Producer.ProducerService = Effect.runSync(
  Effect.provideService(Producer.make, ProducerDriver, collectingDriver)
)

/**
 * One attempt of a handler: what it sent is dropped when it fails or is interrupted (a retry
 * starts afresh; a dead letter after the last attempt is what the transaction carries instead).
 * An attempt that stall detection interrupted (O3) runs on a fiber of its own, where a failure
 * handler would be skipped: `onExit` runs however it ends, so half of an interrupted attempt's
 * sends never reaches the transaction.
 */
export const attempt = <E, R>(effect: Effect.Effect<void, E, R>): Effect.Effect<void, E, R> =>
  Effect.flatMap(FiberRef.get(currentOutputs), (outputs) => {
    if (outputs === undefined) return effect
    const mark = outputs.length
    return Effect.onExit(effect, (exit) =>
      Exit.isSuccess(exit)
        ? Effect.void
        : Effect.sync(() => {
            outputs.length = mark
          })
    )
  })

/** The transactional state of one assigned partition. */
export class PartitionTransactions {
  producer: TransactionalProducer | undefined = undefined
  /** Set once a commit was fenced: nothing more is committed for the partition. */
  fenced = false
  /** What each finished (or about to finish) record produced, by offset, in finishing order. */
  readonly outputs = new Map<number, ReadonlyArray<ProducerRecord>>()
  /** Records handled since the last commit: `size` of them opens `due`. */
  private handled = 0
  readonly due: Effect.Latch = Effect.unsafeMakeLatch(false)
  /** Offsets below it, and those in `stableFinished`, were committed by an earlier owner: skipped. */
  private stable = -1
  private stableFinished: ReadonlySet<number> | undefined = undefined

  constructor(readonly options: Resolved) {}

  opened(producer: TransactionalProducer): void {
    this.producer = producer
    const committed = producer.committed
    if (committed !== undefined) {
      this.stable = committed.offset
      const finished = OffsetMetadata.decode(committed.offset, committed.metadata)
      if (finished.length > 0) this.stableFinished = new Set(finished)
    }
  }

  /** Runs `effect` (the pipeline's processing of `raw`) with its sends kept for the transaction. */
  run<E, R>(raw: RawRecord, effect: Effect.Effect<void, E, R>): Effect.Effect<void, E, R> {
    if (raw.offset < this.stable || this.stableFinished?.has(raw.offset) === true) return Effect.void
    const outputs: Array<ProducerRecord> = []
    return Effect.locally(effect, currentOutputs, outputs).pipe(
      Effect.tap(() => {
        if (outputs.length > 0) this.outputs.set(raw.offset, outputs)
        if (++this.handled >= this.options.size) this.due.unsafeOpen()
      })
    )
  }

  /**
   * Commits `offset` (the frontier, with the finished offsets above it in its metadata) with
   * the outputs of every record it covers (below the frontier or named in the metadata), in one transaction, retried by `retry` while the
   * failure is retriable. Runs under the commit lock, uninterruptibly (a transaction is never
   * left half-way by an interruption).
   */
  commit(
    offset: OffsetAndMetadata,
    retry: Schedule.Schedule<unknown, TransactionError>
  ): Effect.Effect<"committed" | "skipped" | "fenced" | TransactionError> {
    return Effect.uninterruptible(
      Effect.suspend((): Effect.Effect<"committed" | "skipped" | "fenced" | TransactionError> => {
        const producer = this.producer
        if (producer === undefined || this.fenced) return Effect.succeed<"skipped">("skipped")
        // Exactly the offsets the committed metadata names: a record finished since it was built
        // waits for the next transaction, or a restart would redo it.
        const finishedAbove = OffsetMetadata.decode(offset.offset, offset.metadata ?? "")
        const above = finishedAbove.length === 0 ? undefined : new Set(finishedAbove)
        const covered: Array<number> = []
        const records: Array<ProducerRecord> = []
        for (const [at, produced] of this.outputs) {
          if (at < offset.offset || above?.has(at) === true) {
            covered.push(at)
            for (const record of produced) records.push(record)
          }
        }
        this.handled = 0
        return producer.commit(records, [offset]).pipe(
          Effect.retry({ schedule: retry, while: (error) => error.retriable }),
          Effect.map((): "committed" => {
            for (const at of covered) this.outputs.delete(at)
            return "committed"
          }),
          Effect.catchAll((error): Effect.Effect<"fenced" | TransactionError> => {
            if (error.retriable) return Effect.succeed(error)
            this.fenced = true
            return Effect.as(
              Effect.logError(
                `Sluice: the transactional producer of ${offset.topic}-${offset.partition} cannot commit ` +
                  `(${error.reason}); the partition is treated as lost`,
                error
              ),
              "fenced" as const
            )
          })
        )
      })
    )
  }
}

/** A transaction failure as the committer's events report it. */
export const asKafkaError = (error: TransactionError): KafkaError.KafkaError =>
  KafkaError.make({
    reason: error.reason === "fenced" ? "rebalance" : error.reason === "unknown" ? "commit" : error.reason,
    operation: "transaction",
    message: error.message,
    retriable: error.retriable,
    cause: error
  })

/** The transactional id of an input partition: the classic scheme, one producer per partition. */
export const transactionalId = (prefix: string, groupId: string, topic: string, partition: number): string =>
  `${prefix}-${groupId}-${topic}-${partition}`

/** Opens the partition's transactional producer in `scope`, retrying what may pass. */
const openIn = (options: Resolved, groupId: string, tp: TP.TopicPartition, scope: Scope.Scope) =>
  Effect.flatMap(TransactionalProducerDriver, (driver) =>
    driver
      .open({
        transactionalId: transactionalId(options.transactionalIdPrefix, groupId, tp.topic, tp.partition),
        groupId,
        topicPartition: tp
      })
      .pipe(
        Scope.extend(scope),
        Effect.retry({
          schedule: Schedule.intersect(Schedule.exponential("200 millis"), Schedule.recurs(5)),
          while: (error) => error.reason !== "fenced"
        })
      )
  )

/**
 * Producers opened for partitions about to be assigned, before the driver reads their committed
 * offsets (`GroupListener.prepare`), each in a scope of its own until its partition's processor
 * takes it over. Opening fences a crashed former owner and aborts the transaction it left open;
 * until then librdkafka, which reads committed offsets with `require_stable` under
 * read_committed, waits on that transaction's pending offsets (up to its timeout, 60 s by default)
 * before the partition can even be assigned.
 */
export class Preopened {
  private readonly opened = new Map<
    string,
    { readonly scope: Scope.CloseableScope; readonly producer: TransactionalProducer }
  >()

  constructor(
    private readonly options: Resolved,
    private readonly groupId: string
  ) {}

  /**
   * Opens the partitions' producers, a few at a time (librdkafka holds a worker thread per call).
   * What an earlier rebalance left untaken is closed first: another member may have fenced it
   * since. Never fails: a partition whose open failed is opened again by its processor, which
   * reports it.
   */
  open(partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void, never, TransactionalProducerDriver> {
    return Effect.zipRight(
      this.close,
      Effect.forEach(partitions, (tp) => this.openOne(tp), { concurrency: 4, discard: true })
    )
  }

  private openOne(tp: TP.TopicPartition): Effect.Effect<void, never, TransactionalProducerDriver> {
    return Effect.gen(this, function* () {
      const scope = yield* Scope.make()
      const opened = yield* Effect.either(openIn(this.options, this.groupId, tp, scope))
      if (opened._tag === "Left") {
        yield* Scope.close(scope, Exit.void)
        return yield* Effect.logDebug(
          `Sluice: opening the transactional producer of ${TP.key(tp)} before its assignment failed; its processor opens it`,
          opened.left
        )
      }
      this.opened.set(TP.key(tp), { scope, producer: opened.right })
    })
  }

  /** The producer opened for `tp`, now the caller's: its scope closes when `scope` does. */
  take(tp: TP.TopicPartition, scope: Scope.Scope): Effect.Effect<TransactionalProducer | undefined> {
    return Effect.suspend(() => {
      const held = this.opened.get(TP.key(tp))
      if (held === undefined) return Effect.succeed(undefined)
      this.opened.delete(TP.key(tp))
      return Effect.as(Scope.addFinalizer(scope, Scope.close(held.scope, Exit.void)), held.producer)
    })
  }

  /** Closes what no processor took (the run ends). */
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => Effect.forEach([...this.opened.keys()], (key) => this.drop(key), { discard: true }))
  }

  private drop(key: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const held = this.opened.get(key)
      if (held === undefined) return Effect.void
      this.opened.delete(key)
      return Scope.close(held.scope, Exit.void)
    })
  }
}

/**
 * The processor of an exactly-once pipeline's partition: takes the producer `preopened` holds for
 * it or opens one, then runs `inner` (the pipeline's processor in its mode) with the collecting
 * `Producer`, beside the loop that commits every `size` records or `within`.
 */
export const transactional =
  <R>(
    options: Resolved,
    groupId: string,
    inner: Processor<R>,
    preopened?: Preopened
  ): Processor<R | TransactionalProducerDriver> =>
  (worker, flow) =>
    Effect.gen(function* () {
      const tx = new PartitionTransactions(options)
      flow.transactional(worker, tx)
      const tp = worker.topicPartition
      // The producer lives as long as the partition: closed with the worker's scope.
      const held = preopened === undefined ? undefined : yield* preopened.take(tp, worker.scope)
      const opened =
        held === undefined ? yield* Effect.either(openIn(options, groupId, tp, worker.scope)) : Either.right(held)
      if (opened._tag === "Left") {
        flow.fail(opened.left)
        return
      }
      tx.opened(opened.right)
      yield* Effect.raceFirst(
        inner(worker, flow).pipe(
          Effect.locally(currentPartition, tx),
          Effect.provideService(Producer.Producer, collector)
        ),
        trigger(worker, flow, tx)
      )
    })

/** Commits the partition every `size` handled records or `within`, until interrupted. */
const trigger = (worker: Worker, flow: Flow, tx: PartitionTransactions): Effect.Effect<never> =>
  Effect.forever(
    Effect.zipRight(
      Effect.raceFirst(Effect.sleep(tx.options.within), tx.due.await),
      Effect.suspend(() => {
        tx.due.unsafeClose()
        return flow.commitNow(worker)
      })
    )
  )

export const defaults = { size: 500, within: Duration.millis(100), transactionalIdPrefix: "sluice" }
