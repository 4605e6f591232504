/**
 * The `ProducerDriver` on `@confluentinc/kafka-javascript` 1.10: idempotent by default,
 * acknowledged by all in-sync replicas, keys partitioned as the Java client and kafkajs do
 * (murmur2), each record's partition and offset from its delivery report.
 *
 * @example
 * ```ts
 * import * as ConfluentProducer from "@sluice/confluent/ConfluentProducer"
 *
 * const ProducerLive = ConfluentProducer.layer({ brokers: ["127.0.0.1:9092"] })
 * ```
 *
 * @since 0.1.0
 */

import type * as KafkaError from "@sluice/core/KafkaError"
import type { ProducerRecord, RecordMetadata } from "@sluice/core/ProducerDriver"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as SettingsConfig from "@sluice/core/SettingsConfig"
import type { SettingsError } from "@sluice/core/SettingsError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ConfluentConfig from "./ConfluentConfig.js"
import { codeOf, toKafkaError } from "./ConfluentError.js"
import { attachLogs } from "./internal/log.js"
import { makeProducer, type NativeError, type NativeProducer } from "./internal/native.js"
import * as Properties from "./internal/properties.js"
import { toBuffer, toHeaders } from "./internal/records.js"

/**
 * Producer settings beyond the connection's.
 *
 * @since 0.1.0
 */
export interface ProducerOptions {
  /**
   * Idempotent production (`enable.idempotence`: producer id and sequence numbers): a retried
   * request cannot write a record twice, and records of a partition keep their order. On by
   * default.
   */
  readonly idempotent?: boolean | undefined
}

/** The delivery report's `opaque`: settles one record of a `send`. */
interface Delivery {
  readonly settle: (error: NativeError | null, offset: number, partition: number) => void
}

// librdkafka's local queue is full (`queue.buffering.max.messages`): wait for deliveries.
const queueFull = -184

const connect = (producer: NativeProducer, timeout: Duration.Duration): Effect.Effect<void, KafkaError.KafkaError> =>
  Effect.async((resume) => {
    try {
      producer.connect({ timeout: Duration.toMillis(timeout) }, (error) =>
        resume(error ? Effect.fail(toKafkaError(error, "ConfluentProducer.connect")) : Effect.void)
      )
    } catch (error) {
      resume(Effect.fail(toKafkaError(error, "ConfluentProducer.connect")))
    }
  })

const call = (
  operation: string,
  run: (done: (error: NativeError | null) => void) => void
): Effect.Effect<void, KafkaError.KafkaError> =>
  Effect.async((resume) => {
    try {
      run((error) => resume(error ? Effect.fail(toKafkaError(error, operation)) : Effect.void))
    } catch (error) {
      resume(Effect.fail(toKafkaError(error, operation)))
    }
  })

/**
 * Connects a producer in the current scope; the scope's end flushes what is in flight and
 * disconnects. Fails with a `SettingsError` when `config.librdkafka` sets what the driver sets.
 *
 * @since 0.1.0
 */
export const make = (
  config: ConfluentConfig.ConfluentConfig,
  options: ProducerOptions = {}
): Effect.Effect<ProducerDriver["Type"], KafkaError.KafkaError | SettingsError, Scope.Scope> =>
  Effect.gen(function* () {
    const refused = Properties.refusedForProducer(config)
    if (refused !== undefined) return yield* Effect.fail(refused)
    const resolved = yield* ConfluentConfig.validate(config)
    const runtime = yield* Effect.runtime<never>()
    const timeout = Duration.toMillis(resolved.requestTimeout)
    const producer = yield* Effect.try({
      try: () => makeProducer(Properties.producer(resolved, { idempotent: options.idempotent ?? true })),
      catch: (error) => toKafkaError(error, "ConfluentProducer.connect")
    })
    attachLogs(producer, runtime)
    producer.on("delivery-report", (error, report) => {
      ;(report.opaque as Delivery | undefined)?.settle(error, report.offset, report.partition)
    })
    const flush = call("ConfluentProducer.flush", (done) => producer.flush(timeout, done))

    yield* Effect.acquireRelease(
      Effect.zipRight(
        connect(producer, resolved.requestTimeout),
        // Delivery reports come from librdkafka's background thread, without a poll timer.
        Effect.sync(() => (producer as unknown as { setPollInBackground(on: boolean): void }).setPollInBackground(true))
      ),
      () =>
        Effect.ignore(flush).pipe(
          Effect.zipRight(call("ConfluentProducer.disconnect", (done) => producer.disconnect(done))),
          Effect.catchAll((error) => Effect.logWarning("Sluice: librdkafka producer disconnect failed", error))
        )
    )

    /** Queues one record; its delivery report settles `delivery`. Retries while librdkafka's queue is full. */
    const produce = (record: ProducerRecord, delivery: Delivery): Effect.Effect<void, KafkaError.KafkaError> =>
      Effect.suspend(() => {
        try {
          producer.produce(
            record.topic,
            record.partition ?? null,
            record.value === null ? null : toBuffer(record.value),
            record.key === null ? null : toBuffer(record.key),
            record.timestamp ?? null,
            delivery,
            toHeaders(record)
          )
          return Effect.void
        } catch (error) {
          return codeOf(error) === queueFull
            ? Effect.zipRight(Effect.sleep("5 millis"), produce(record, delivery))
            : Effect.fail(toKafkaError(error, "ConfluentProducer.send"))
        }
      })

    const send = (
      records: ReadonlyArray<ProducerRecord>
    ): Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError.KafkaError> =>
      Effect.gen(function* () {
        if (records.length === 0) return []
        const done = yield* Deferred.make<ReadonlyArray<RecordMetadata>, KafkaError.KafkaError>()
        const results: Array<RecordMetadata> = new Array(records.length)
        let left = records.length
        let failed: KafkaError.KafkaError | undefined
        const settled = (count: number) => {
          left -= count
          if (left === 0) Deferred.unsafeDone(done, failed === undefined ? Exit.succeed(results) : Exit.fail(failed))
        }
        for (let i = 0; i < records.length; i++) {
          const record = records[i]!
          const queued = yield* Effect.either(
            produce(record, {
              settle: (error, offset, partition) => {
                if (error) failed ??= toKafkaError(error, "ConfluentProducer.send")
                results[i] = { topic: record.topic, partition, offset }
                settled(1)
              }
            })
          )
          if (Either.isLeft(queued)) {
            // The rest is not sent; what was queued still settles before `send` fails.
            failed ??= queued.left
            settled(records.length - i)
            break
          }
        }
        return yield* Deferred.await(done)
      }).pipe(
        Effect.withSpan("ConfluentProducer.send", { attributes: { records: records.length }, captureStackTrace: false })
      )

    return {
      name: "confluent",
      send,
      flush: flush.pipe(Effect.withSpan("ConfluentProducer.flush"))
    }
  })

/**
 * The `ProducerDriver` from connection settings, connected for the layer's lifetime (see
 * `make`).
 *
 * @since 0.1.0
 */
export const layer = (
  config: ConfluentConfig.ConfluentConfig,
  options?: ProducerOptions
): Layer.Layer<ProducerDriver, KafkaError.KafkaError | SettingsError> =>
  Layer.scoped(ProducerDriver, make(config, options))

/**
 * The producer with its connection settings read from `config` (by default the
 * environment, see `ConfluentConfig.config`).
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config<ConfluentConfig.ConfluentConfig> = ConfluentConfig.config,
  options?: ProducerOptions
): Layer.Layer<ProducerDriver, KafkaError.KafkaError | SettingsError | ConfigError.ConfigError> =>
  Layer.scoped(
    ProducerDriver,
    Effect.flatMap(config, (c) => make(c, options))
  )

/**
 * Reads the producer options from configuration (the environment by default):
 * `KAFKA_IDEMPOTENT`, as the kafkajs driver does.
 *
 * @since 0.2.0
 */
export const config: Config.Config<ProducerOptions> = Config.nested(
  Config.all({ idempotent: SettingsConfig.optional(Config.boolean("IDEMPOTENT")) }),
  SettingsConfig.prefix
)
