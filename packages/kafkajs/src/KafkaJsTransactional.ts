/**
 * The `TransactionalProducerDriver` on kafkajs 2.2.4, for exactly-once pipelines
 * (`Pipeline.exactlyOnce`, G10): a transactional producer per input partition.
 *
 * Why one producer per partition: kafkajs's `sendOffsets` sends TxnOffsetCommit version 0 or 1
 * (`protocol/requests/txnOffsetCommit/`), which carries the transactional id, the producer id
 * and epoch, and no group generation or member id (those came with version 3, KIP-447). The
 * broker therefore cannot fence a former owner of a partition by the group's metadata, so this
 * driver uses the classic scheme: the transactional id `<prefix>-<group>-<topic>-<partition>`,
 * a producer opened when the partition is assigned (its InitProducerId bumps the epoch, aborts
 * the former owner's open transaction and fences that producer for good) and closed when it is
 * revoked. The committed offset is read after the fence, when it is stable.
 *
 * @example
 * ```ts
 * import * as KafkaJsTransactional from "@sluice/kafkajs/KafkaJsTransactional"
 *
 * const TransactionalLive = KafkaJsTransactional.layer({ brokers: ["127.0.0.1:9092"] })
 * ```
 *
 * @since 0.3.0
 */
import type { OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import * as SettingsConfig from "@sluice/core/SettingsConfig"
import type { SettingsError } from "@sluice/core/SettingsError"
import * as TP from "@sluice/core/TopicPartition"
import {
  runTransaction,
  type TransactionalPartition,
  type TransactionalProducer,
  TransactionalProducerDriver,
  type TransactionError,
  error as transactionError,
  transactionFailure
} from "@sluice/core/TransactionalProducerDriver"
import * as Validate from "@sluice/core/Validate"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type Admin, type Message, Partitioners, type Transaction } from "kafkajs"
import { makeKafka, retryOptions } from "./internal/client.js"
import { fetchCommitted } from "./internal/committed.js"
import { chain, str } from "./internal/errorChain.js"
import { toMessage } from "./internal/records.js"
import * as KafkaJsConfig from "./KafkaJsConfig.js"
import { toKafkaError } from "./KafkaJsError.js"

/**
 * Transactional producer tunables beyond the connection settings.
 *
 * @since 0.3.0
 */
export interface TransactionalOptions {
  /**
   * How long the broker lets a transaction stay open before it aborts it and fences the
   * producer (kafkajs `transactionTimeout`, Kafka's `transaction.timeout.ms`): at most the
   * broker's `transaction.max.timeout.ms` (15 minutes by default). Default 60 seconds. A
   * transaction is open only while it commits (the outputs are kept until then).
   */
  readonly transactionTimeout?: Duration.DurationInput | undefined
}

/** The broker's default `transaction.max.timeout.ms`: a longer timeout is refused at InitProducerId. */
const maxTransactionTimeout = Duration.minutes(15)

/**
 * Broker errors after which the producer may not be used again: a newer producer of the
 * transactional id exists, or the broker aborted the transaction and bumped the epoch.
 */
const fencedTypes: ReadonlySet<string> = new Set([
  "INVALID_PRODUCER_EPOCH",
  "PRODUCER_FENCED",
  "INVALID_PRODUCER_ID_MAPPING",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
])

const isFencedError = (error: unknown): boolean =>
  chain(error).some((e) => {
    const type = str(e.type)
    return type !== undefined && fencedTypes.has(type)
  })

/** A kafkajs failure as a `TransactionError` (`retriable` only when the caller aborted cleanly). */
const toTransactionError = (error: unknown, operation: string, retriable: boolean): TransactionError => {
  if (isFencedError(error)) {
    return transactionError({
      reason: "fenced",
      operation,
      message: "the producer was fenced (a newer producer of its transactional id, or the broker aborted it)",
      cause: error
    })
  }
  const kafka = toKafkaError(error, operation)
  const reason =
    kafka.reason === "connection" || kafka.reason === "timeout" || kafka.reason === "protocol"
      ? kafka.reason
      : "unknown"
  return transactionError({ reason, operation, message: kafka.message, retriable, cause: error })
}

/** The records of one transaction, grouped by topic as kafkajs's `sendBatch` takes them. */
const topicMessages = (records: ReadonlyArray<ProducerRecord>) => {
  const topics = new Map<string, Array<Message>>()
  for (const record of records) {
    const message = toMessage(record)
    const list = topics.get(record.topic)
    if (list === undefined) topics.set(record.topic, [message])
    else list.push(message)
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }))
}

/**
 * Builds the driver in the current scope: one admin client (the committed offsets, connected by
 * the first `open`) and a producer per opened partition. Bad settings fail with a `SettingsError`
 * naming the field before anything connects.
 *
 * @since 0.3.0
 */
export const make = (
  config: KafkaJsConfig.KafkaJsConfig,
  options: TransactionalOptions = {}
): Effect.Effect<TransactionalProducerDriver["Type"], SettingsError, Scope.Scope> =>
  Effect.gen(function* () {
    const resolved = yield* KafkaJsConfig.validate(config)
    const transactionTimeout =
      options.transactionTimeout === undefined
        ? Duration.seconds(60)
        : yield* Validate.duration("transactionTimeout", options.transactionTimeout)
    if (Duration.greaterThan(transactionTimeout, maxTransactionTimeout)) {
      return yield* Validate.fail(
        "transactionTimeout",
        `transactionTimeout must be at most the broker's transaction.max.timeout.ms (15 minutes by default), got ${Duration.format(transactionTimeout)}`
      )
    }
    const runtime = yield* Effect.runtime<never>()
    const kafka = makeKafka(resolved, resolved.clientId, runtime)
    // Connected by the first `open` (an application without exactly-once pipelines never connects it).
    const admin: Admin = kafka.admin()
    yield* Effect.addFinalizer(() => Effect.ignore(Effect.tryPromise(() => admin.disconnect())))

    const open = (
      partition: TransactionalPartition
    ): Effect.Effect<TransactionalProducer, TransactionError, Scope.Scope> =>
      Effect.gen(function* () {
        const { groupId, topicPartition, transactionalId } = partition
        const producer = kafka.producer({
          transactionalId,
          idempotent: true,
          maxInFlightRequests: 1,
          transactionTimeout: Duration.toMillis(transactionTimeout),
          allowAutoTopicCreation: false,
          createPartitioner: Partitioners.DefaultPartitioner,
          retry: retryOptions(resolved)
        })
        yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () => producer.connect(),
            catch: (error) => toTransactionError(error, "KafkaJsTransactional.open", false)
          }),
          () => Effect.ignore(Effect.tryPromise(() => producer.disconnect()))
        )
        // The first transaction initialises the producer id: InitProducerId fences every older
        // producer of the id (and waits until its open transaction is aborted). Kept for the
        // first commit.
        let current: Transaction | undefined = yield* Effect.tryPromise({
          try: () => producer.transaction(),
          catch: (error) => toTransactionError(error, "KafkaJsTransactional.open", false)
        })
        yield* Effect.tryPromise({
          try: () => admin.connect(),
          catch: (error) => toTransactionError(error, "KafkaJsTransactional.open", false)
        })
        const committed = yield* fetchCommitted(admin, groupId, [topicPartition]).pipe(
          Effect.mapError((error) => toTransactionError(error, "KafkaJsTransactional.open", false))
        )

        const commit = (
          records: ReadonlyArray<ProducerRecord>,
          offsets: ReadonlyArray<OffsetAndMetadata>
        ): Effect.Effect<void, TransactionError> =>
          Effect.tryPromise({
            try: async () => {
              const txn = current ?? (await producer.transaction())
              current = undefined
              await runTransaction(
                async () => {
                  if (records.length > 0) await txn.sendBatch({ acks: -1, topicMessages: topicMessages(records) })
                  const byTopic = new Map<
                    string,
                    Array<{ partition: number; offset: string; metadata: string | null }>
                  >()
                  for (const o of offsets) {
                    const list = byTopic.get(o.topic) ?? []
                    list.push({ partition: o.partition, offset: String(o.offset), metadata: o.metadata ?? null })
                    byTopic.set(o.topic, list)
                  }
                  await txn.sendOffsets({
                    consumerGroupId: groupId,
                    topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
                  })
                  await txn.commit()
                },
                () => txn.abort(),
                isFencedError
              )
            },
            catch: (failure) => {
              const { aborted, error } = transactionFailure(failure)
              return toTransactionError(error, "KafkaJsTransactional.commit", aborted)
            }
          }).pipe(
            Effect.withSpan("KafkaJsTransactional.commit", {
              attributes: { transactionalId, records: records.length }
            })
          )

        const found = committed.get(TP.key(topicPartition))
        return { committed: found, commit }
      }).pipe(
        Effect.withSpan("KafkaJsTransactional.open", { attributes: { transactionalId: partition.transactionalId } })
      )

    return { name: "kafkajs", open }
  })

/**
 * The transactional producer driver as a layer: its admin client connected while the layer
 * lives. Provide it beside `KafkaJs.layer` to run exactly-once pipelines.
 *
 * @since 0.3.0
 */
export const layer = (
  config: KafkaJsConfig.KafkaJsConfig,
  options?: TransactionalOptions
): Layer.Layer<TransactionalProducerDriver, SettingsError> =>
  Layer.scoped(TransactionalProducerDriver, make(config, options))

/**
 * Reads the transactional options from configuration (the environment by default):
 * `KAFKA_TRANSACTION_TIMEOUT`.
 *
 * @since 0.3.0
 */
export const config: Config.Config<TransactionalOptions> = Config.nested(
  Config.all({ transactionTimeout: SettingsConfig.optional(SettingsConfig.duration("TRANSACTION_TIMEOUT")) }),
  SettingsConfig.prefix
)
