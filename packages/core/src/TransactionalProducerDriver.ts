/**
 * The port a Kafka client implements for exactly-once pipelines (`Pipeline.exactlyOnce`): a
 * transactional producer for one input partition that commits the records a pipeline produced
 * and the consumed offsets in one Kafka transaction (`sendOffsetsToTransaction`).
 *
 * A driver implements two primitives: `open` (initialise the producer of a transactional id,
 * which fences every older producer of that id, then read the partition's committed offset)
 * and `commit` (begin, send, send the offsets, commit, all at once). Transactions are
 * per input partition, so a driver whose client cannot fence by the consumer group's
 * metadata (KIP-447) still fences a former owner by the transactional id
 * `<prefix>-<group>-<topic>-<partition>`: the new owner opens its producer before it starts.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { OffsetAndMetadata } from "./ConsumerDriver.js"
import type { ProducerRecord } from "./ProducerDriver.js"
import type { TopicPartition } from "./TopicPartition.js"

/**
 * Why a transactional operation failed.
 *
 * - `fenced`: a newer producer of the same transactional id exists (the partition moved to
 *   another member), or the broker aborted the transaction and bumped the epoch: this producer
 *   may never commit again. The engine treats the partition as lost.
 * - `timeout`: the transaction outlived its timeout and the broker aborted it (which also
 *   fences the producer), or a request timed out.
 * - `connection`: the brokers could not be reached.
 * - `protocol`: the broker refused the request (unknown topic, invalid state, …).
 * - `unknown`: anything else, with the original `cause`.
 *
 * @since 0.3.0
 */
export type TransactionErrorReason = "fenced" | "timeout" | "connection" | "protocol" | "unknown"

/**
 * A failed transactional operation. `retriable` is true only when the driver aborted the
 * transaction cleanly (nothing of it is visible) and the same producer may try again.
 *
 * @since 0.3.0
 */
export class TransactionError extends Data.TaggedError("TransactionError")<{
  readonly reason: TransactionErrorReason
  readonly operation: string
  readonly message: string
  readonly retriable: boolean
  readonly cause?: unknown
}> {}

/**
 * Builds a `TransactionError`.
 *
 * @since 0.3.0
 */
export const error = (options: {
  readonly reason: TransactionErrorReason
  readonly operation: string
  readonly message: string
  readonly retriable?: boolean
  readonly cause?: unknown
}): TransactionError =>
  new TransactionError({
    reason: options.reason,
    operation: options.operation,
    message: `${options.operation}: ${options.message}`,
    retriable: options.retriable ?? false,
    ...(options.cause === undefined ? {} : { cause: options.cause })
  })

/**
 * What a transactional producer is opened for: one input partition of a group.
 *
 * @since 0.3.0
 */
export interface TransactionalPartition {
  readonly transactionalId: string
  readonly groupId: string
  readonly topicPartition: TopicPartition
}

/**
 * An opened transactional producer. `committed` is the partition's committed offset read
 * after the producer fenced its predecessors (their last transaction is committed or aborted
 * by then, so it is stable); the engine skips what it names.
 *
 * @since 0.3.0
 */
export interface TransactionalProducer {
  readonly committed: { readonly offset: number; readonly metadata: string } | undefined
  /**
   * One transaction: `records`, and `offsets` committed for the group, all or nothing. Fails
   * with a `TransactionError`; when it is not `retriable`, the producer must not be used again.
   */
  readonly commit: (
    records: ReadonlyArray<ProducerRecord>,
    offsets: ReadonlyArray<OffsetAndMetadata>
  ) => Effect.Effect<void, TransactionError>
}

/**
 * The transactional side of a Kafka client.
 *
 * @since 0.3.0
 */
export class TransactionalProducerDriver extends Context.Tag("@sluice/core/TransactionalProducerDriver")<
  TransactionalProducerDriver,
  {
    /** A name for logs and diagnostics, e.g. "kafkajs" or "memory". */
    readonly name: string
    /**
     * Opens (and fences the predecessors of) the producer of one input partition; closing the
     * scope closes it.
     */
    readonly open: (
      partition: TransactionalPartition
    ) => Effect.Effect<TransactionalProducer, TransactionError, Scope.Scope>
  }
>() {}

/**
 * How a driver's transaction failed: the client's error, and whether the transaction was
 * aborted cleanly (nothing of it visible, the same producer may try again).
 *
 * @since 0.3.0
 */
export class TransactionFailure {
  constructor(
    readonly error: unknown,
    readonly aborted: boolean
  ) {}
}

/**
 * Runs one transaction of a driver's client, for driver authors: `body` begins it, adds the
 * records and offsets and commits. When it fails, `abort` is tried, unless `final(error)` says
 * the producer cannot go on (fenced, or a fatal error: aborting is refused then). Rejects with
 * a `TransactionFailure` that says whether the abort went through.
 *
 * @example
 * ```ts
 * import { runTransaction, transactionFailure } from "@sluice/core/TransactionalProducerDriver"
 *
 * declare const client: { begin(): Promise<void>; commit(): Promise<void>; abort(): Promise<void> }
 *
 * // Resolves with undefined, or with the failure and whether the abort went through.
 * const commit = () =>
 *   runTransaction(
 *     async () => {
 *       await client.begin()
 *       await client.commit()
 *     },
 *     () => client.abort(),
 *     () => false
 *   ).then(() => undefined, transactionFailure)
 * ```
 *
 * @since 0.3.0
 */
export const runTransaction = async (
  body: () => Promise<void>,
  abort: () => Promise<void>,
  final: (error: unknown) => boolean
): Promise<void> => {
  try {
    await body()
  } catch (error) {
    if (final(error)) throw new TransactionFailure(error, false)
    const aborted = await abort().then(
      () => true,
      () => false
    )
    throw new TransactionFailure(error, aborted)
  }
}

/**
 * What `runTransaction` rejected with, whatever it was: a failure thrown before the
 * transaction began (not a `TransactionFailure`) was not aborted.
 *
 * @since 0.3.0
 */
export const transactionFailure = (failure: unknown): TransactionFailure =>
  failure instanceof TransactionFailure ? failure : new TransactionFailure(failure, false)
