/**
 * The `TransactionalProducerDriver` on `@confluentinc/kafka-javascript` 1.10 (librdkafka), for
 * exactly-once pipelines (`Pipeline.exactlyOnce`, G10): a transactional producer per input
 * partition whose offsets go to the transaction with the group's metadata (KIP-447).
 *
 * Two fences stand between a former owner of a partition and a commit:
 * - the transactional id `<prefix>-<group>-<topic>-<partition>` (the port's scheme): the new
 *   owner's `initTransactions` bumps the producer epoch, aborts the former owner's open
 *   transaction and fences its producer for good;
 * - KIP-447: librdkafka's `send_offsets_to_transaction` takes the consumer's group metadata
 *   (generation, member id, group instance id), so the coordinator refuses the offsets of a
 *   member that is no longer in the generation that owns them (a process paused past its
 *   session). The consumer is the `ConfluentDriver` member of this process that owns the
 *   partition; without one (the driver used on its own) a helper consumer of the group, never
 *   subscribed, sends no generation and only the transactional id fences.
 *
 * librdkafka's error classes decide what happens next: a fatal error (a fenced producer) is
 * `fenced` and final, the engine treats the partition as lost; an error that requires an abort
 * is followed by `abortTransaction` and reported `retriable` (nothing of it is visible); a
 * retriable `commitTransaction` is called again, as librdkafka asks.
 *
 * @example
 * ```ts
 * import * as ConfluentTransactional from "@sluice/confluent/ConfluentTransactional"
 *
 * const TransactionalLive = ConfluentTransactional.layer({ brokers: ["127.0.0.1:9092"] })
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
  type TransactionErrorReason,
  error as transactionError,
  transactionFailure
} from "@sluice/core/TransactionalProducerDriver"
import * as Validate from "@sluice/core/Validate"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ConfluentConfig from "./ConfluentConfig.js"
import { codeOf, isFatal, toKafkaError } from "./ConfluentError.js"
import { fetchCommitted } from "./internal/committed.js"
import { attachLogs } from "./internal/log.js"
import * as Members from "./internal/members.js"
import {
  makeConsumer,
  makeProducer,
  type NativeConsumer,
  type NativeError,
  type NativeTransactionalProducer
} from "./internal/native.js"
import * as Properties from "./internal/properties.js"
import { toBuffer, toHeaders } from "./internal/records.js"

/**
 * Transactional producer tunables beyond the connection settings.
 *
 * @since 0.3.0
 */
export interface TransactionalOptions {
  /**
   * How long the broker lets a transaction stay open before it aborts it and fences the
   * producer (`transaction.timeout.ms`): at most the broker's `transaction.max.timeout.ms` (15
   * minutes by default). Default 60 seconds. A transaction is open only while it commits (the
   * outputs are kept until then).
   */
  readonly transactionTimeout?: Duration.DurationInput | undefined
}

/** The broker's default `transaction.max.timeout.ms`: a longer timeout is refused at InitProducerId. */
const maxTransactionTimeout = Duration.minutes(15)

/** librdkafka's local queue is full (`queue.buffering.max.messages`): wait for deliveries. */
const queueFull = -184

/** Properties the driver sets itself: refused in `config.librdkafka`. */
const transactionalKeys = ["transactional.id", "transaction.timeout.ms"]

/** Broker errors that name a fenced producer even when librdkafka did not flag them fatal. */
const fencedCodes: ReadonlySet<number> = new Set([
  -144, // RD_KAFKA_RESP_ERR__FENCED
  47, // INVALID_PRODUCER_EPOCH
  49, // INVALID_PRODUCER_ID_MAPPING
  53, // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
  90 // PRODUCER_FENCED
])

const reasonOf = (error: unknown): TransactionErrorReason => {
  const code = codeOf(error)
  if (code !== undefined && fencedCodes.has(code)) return "fenced"
  const kafka = toKafkaError(error, "transaction")
  return kafka.reason === "connection" || kafka.reason === "timeout" || kafka.reason === "protocol"
    ? kafka.reason
    : "unknown"
}

/** A librdkafka failure as a `TransactionError`: `retriable` only when the caller aborted cleanly. */
const toTransactionError = (error: unknown, operation: string, retriable: boolean): TransactionError => {
  const fatal = isFatal(error) || reasonOf(error) === "fenced"
  const message = error instanceof Error ? error.message : String(error)
  const code = codeOf(error)
  return transactionError({
    reason: fatal ? "fenced" : reasonOf(error),
    operation,
    message: code === undefined ? message : `${message} [librdkafka ${code}]`,
    retriable: fatal ? false : retriable,
    cause: error
  })
}

const flag = (error: unknown, name: "isRetriable" | "isTxnRequiresAbort"): boolean =>
  typeof error === "object" && error !== null && (error as Record<string, unknown>)[name] === true

/** A callback call of the client as a promise (the transaction runs as one promise). */
const call = (run: (done: (error: NativeError | null) => void) => void): Promise<void> =>
  new Promise((resolve, reject) => {
    try {
      run((error) => (error ? reject(error) : resolve()))
    } catch (error) {
      reject(error)
    }
  })

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/**
 * Builds the driver in the current scope: a producer per opened partition. Bad settings fail
 * with a `SettingsError` naming the field before anything connects.
 *
 * @since 0.3.0
 */
export const make = (
  config: ConfluentConfig.ConfluentConfig,
  options: TransactionalOptions = {}
): Effect.Effect<TransactionalProducerDriver["Type"], SettingsError, Scope.Scope> =>
  Effect.gen(function* () {
    const refused = Properties.refusedForProducer(config)
    if (refused !== undefined) return yield* Effect.fail(refused)
    for (const key of Object.keys(config.librdkafka ?? {})) {
      if (transactionalKeys.includes(key)) {
        return yield* Validate.fail(`librdkafka["${key}"]`, `librdkafka["${key}"]: is set by the driver`)
      }
    }
    const resolved = yield* ConfluentConfig.validate(config)
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
    const timeout = Duration.toMillis(resolved.requestTimeout)

    /** A consumer of the group that is never subscribed: no generation, for a partition no member here owns. */
    const helperConsumer = (groupId: string): Effect.Effect<NativeConsumer, TransactionError, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const consumer = makeConsumer(
              { ...Properties.admin(resolved), "group.id": groupId, "enable.auto.commit": false },
              {}
            )
            attachLogs(consumer, runtime)
            await call((done) => consumer.connect({ timeout }, done))
            return consumer
          },
          catch: (error) => toTransactionError(error, "ConfluentTransactional.open", false)
        }),
        (consumer) => Effect.ignore(Effect.tryPromise(() => call((done) => consumer.disconnect(done))))
      )

    const open = (
      partition: TransactionalPartition
    ): Effect.Effect<TransactionalProducer, TransactionError, Scope.Scope> =>
      Effect.gen(function* () {
        const { groupId, topicPartition, transactionalId } = partition
        const member = Members.owner(groupId, topicPartition)
        const consumer = member?.consumer ?? (yield* helperConsumer(groupId))
        const producer = yield* Effect.try({
          try: () =>
            makeProducer({
              ...Properties.producer(resolved, { idempotent: true }),
              "transactional.id": transactionalId,
              "transaction.timeout.ms": Duration.toMillis(transactionTimeout)
            }) as NativeTransactionalProducer,
          catch: (error) => toTransactionError(error, "ConfluentTransactional.open", false)
        })
        attachLogs(producer, runtime)
        yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: async () => {
              await call((done) => producer.connect({ timeout }, done))
              // Delivery reports come from librdkafka's background thread, without a poll timer.
              producer.setPollInBackground(true)
            },
            catch: (error) => toTransactionError(error, "ConfluentTransactional.open", false)
          }),
          () => Effect.ignore(Effect.tryPromise(() => call((done) => producer.disconnect(done))))
        )
        // InitProducerId fences every older producer of the id and waits until its open
        // transaction is aborted; the committed offset read after it is stable.
        yield* Effect.tryPromise({
          try: () => call((done) => producer.initTransactions(timeout, done)),
          catch: (error) => toTransactionError(error, "ConfluentTransactional.open", false)
        })
        const committed = yield* fetchCommitted(consumer, [topicPartition], resolved.requestTimeout).pipe(
          Effect.mapError((error) => toTransactionError(error.cause ?? error, "ConfluentTransactional.open", false))
        )

        const produce = async (record: ProducerRecord): Promise<void> => {
          for (;;) {
            try {
              producer.produce(
                record.topic,
                record.partition ?? null,
                record.value === null ? null : toBuffer(record.value),
                record.key === null ? null : toBuffer(record.key),
                record.timestamp ?? null,
                undefined,
                toHeaders(record)
              )
              return
            } catch (error) {
              if (codeOf(error) !== queueFull) throw error
              await sleep(5)
            }
          }
        }

        const transaction = async (
          records: ReadonlyArray<ProducerRecord>,
          offsets: ReadonlyArray<OffsetAndMetadata>
        ): Promise<void> => {
          await call((done) => producer.beginTransaction(done))
          await runTransaction(
            async () => {
              for (const record of records) await produce(record)
              await call((done) =>
                producer.sendOffsetsToTransaction(
                  offsets.map((o) => ({
                    topic: o.topic,
                    partition: o.partition,
                    offset: o.offset,
                    metadata: o.metadata ?? null
                  })),
                  consumer,
                  timeout,
                  done
                )
              )
              // A retriable failure of the commit leaves its outcome open: librdkafka asks for the
              // same call again, which resumes it.
              for (let attempt = 1; ; attempt++) {
                try {
                  await call((done) => producer.commitTransaction(timeout, done))
                  return
                } catch (error) {
                  if (!flag(error, "isRetriable") || isFatal(error) || attempt >= 3) throw error
                }
              }
            },
            // Nothing of an aborted transaction is visible: the same producer may try again.
            () => call((done) => producer.abortTransaction(timeout, done)),
            (error) => isFatal(error) || reasonOf(error) === "fenced"
          )
        }

        const commit = (
          records: ReadonlyArray<ProducerRecord>,
          offsets: ReadonlyArray<OffsetAndMetadata>
        ): Effect.Effect<void, TransactionError> =>
          Effect.tryPromise({
            try: () => transaction(records, offsets),
            catch: (failure) => {
              const { aborted, error } = transactionFailure(failure)
              return toTransactionError(error, "ConfluentTransactional.commit", aborted)
            }
          }).pipe(
            Effect.withSpan("ConfluentTransactional.commit", {
              attributes: { transactionalId, records: records.length, kip447: member !== undefined }
            })
          )

        return { committed: committed.get(TP.key(topicPartition)), commit }
      }).pipe(
        Effect.withSpan("ConfluentTransactional.open", { attributes: { transactionalId: partition.transactionalId } })
      )

    return { name: "confluent", open }
  })

/**
 * The transactional producer driver as a layer. `Confluent.layer` includes it; provide it on
 * its own beside `ConfluentDriver.layer` to run exactly-once pipelines.
 *
 * @since 0.3.0
 */
export const layer = (
  config: ConfluentConfig.ConfluentConfig,
  options?: TransactionalOptions
): Layer.Layer<TransactionalProducerDriver, SettingsError> =>
  Layer.scoped(TransactionalProducerDriver, make(config, options))

/**
 * Reads the transactional options from configuration (the environment by default):
 * `KAFKA_TRANSACTION_TIMEOUT`, as the kafkajs driver does.
 *
 * @since 0.3.0
 */
export const config: Config.Config<TransactionalOptions> = Config.nested(
  Config.all({ transactionTimeout: SettingsConfig.optional(SettingsConfig.duration("TRANSACTION_TIMEOUT")) }),
  SettingsConfig.prefix
)
