/**
 * The `ProducerDriver` on kafkajs 2.2.4: idempotent by default, acknowledged by all
 * in-sync replicas, one `sendBatch` per `send`. `KafkaJs.layer` provides it with the rest.
 *
 * @example
 * ```ts
 * import * as KafkaJsProducer from "@sluice/kafkajs/KafkaJsProducer"
 *
 * const ProducerLive = KafkaJsProducer.layer({ brokers: ["127.0.0.1:9092"] })
 * ```
 *
 * @since 0.1.0
 */
import type * as KafkaError from "@sluice/core/KafkaError"
import { ProducerDriver, type ProducerRecord, type RecordMetadata } from "@sluice/core/ProducerDriver"
import * as SettingsConfig from "@sluice/core/SettingsConfig"
import type { SettingsError } from "@sluice/core/SettingsError"
import * as Validate from "@sluice/core/Validate"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import {
  type ICustomPartitioner,
  type RecordMetadata as KafkaJsRecordMetadata,
  type Message,
  Partitioners
} from "kafkajs"
import { makeKafka, retryOptions } from "./internal/client.js"
import { toMessage } from "./internal/records.js"
import { untilAcknowledged } from "./internal/resend.js"
import * as KafkaJsConfig from "./KafkaJsConfig.js"
import { toKafkaError } from "./KafkaJsError.js"

/**
 * Producer tunables beyond the connection settings.
 *
 * @since 0.1.0
 */
export interface ProducerOptions {
  /**
   * Idempotent production (producer id + sequence numbers): a retried request cannot write
   * a record twice. On by default. kafkajs serializes an idempotent producer's requests per
   * broker itself (`producer/eosManager/index.js:350-360`), so no `maxInFlightRequests`
   * limit is needed.
   */
  readonly idempotent?: boolean | undefined
}

/**
 * A partitioner that remembers its choice per message, so that `send` can tell each
 * record's partition (and so its offset) and a retried request keeps keyless records
 * where the first attempt put them. kafkajs's default partitioner (murmur2 of the key,
 * round robin without one) decides.
 */
const rememberingPartitioner =
  (chosen: WeakMap<Message, number>): ICustomPartitioner =>
  () => {
    const partitioner = Partitioners.DefaultPartitioner()
    return (args) => {
      const known = chosen.get(args.message)
      if (known !== undefined && args.partitionMetadata.some((p) => p.partitionId === known)) return known
      const partition = partitioner(args)
      chosen.set(args.message, partition)
      return partition
    }
  }

/**
 * Connects a producer in the current scope; the scope's end waits for the sends in flight
 * and disconnects. Bad settings fail with a `SettingsError` before anything connects.
 *
 * @since 0.1.0
 */
export const make = (
  config: KafkaJsConfig.KafkaJsConfig,
  options: ProducerOptions = {}
): Effect.Effect<ProducerDriver["Type"], KafkaError.KafkaError | SettingsError, Scope.Scope> =>
  Effect.gen(function* () {
    const resolved = yield* KafkaJsConfig.validate(config)
    const idempotent = yield* Validate.boolean("idempotent", options.idempotent ?? true)
    const runtime = yield* Effect.runtime<never>()
    const kafka = makeKafka(resolved, resolved.clientId, runtime)
    const chosen = new WeakMap<Message, number>()
    const producer = kafka.producer({
      idempotent,
      allowAutoTopicCreation: false,
      createPartitioner: rememberingPartitioner(chosen),
      // Bounded, so that a send to an unreachable cluster fails instead of retrying for
      // ever (kafkajs's idempotent default); a failed send is at-least-once on retry.
      retry: retryOptions(resolved)
    })
    const inFlight = new Set<Promise<unknown>>()
    const settle = Effect.tryPromise({
      try: () => Promise.allSettled([...inFlight]),
      catch: (error) => toKafkaError(error, "KafkaJsProducer.flush")
    })

    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => producer.connect(),
        catch: (error) => toKafkaError(error, "KafkaJsProducer.connect")
      }),
      () =>
        Effect.ignore(settle).pipe(
          Effect.zipRight(
            Effect.tryPromise({
              try: () => producer.disconnect(),
              catch: (error) => toKafkaError(error, "KafkaJsProducer.disconnect")
            })
          ),
          Effect.catchAll((error) => Effect.logWarning("Sluice: kafkajs producer disconnect failed", error))
        )
    )

    const sendOnce = (
      records: ReadonlyArray<ProducerRecord>
    ): Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError.KafkaError> =>
      Effect.suspend(() => {
        const messages = records.map(toMessage)
        const topics = new Map<string, Array<Message>>()
        records.forEach((record, i) => {
          const list = topics.get(record.topic)
          if (list === undefined) topics.set(record.topic, [messages[i]!])
          else list.push(messages[i]!)
        })
        const promise = producer.sendBatch({
          acks: -1,
          topicMessages: [...topics].map(([topic, messages]) => ({ topic, messages }))
        })
        inFlight.add(promise)
        const forget = () => {
          inFlight.delete(promise)
        }
        promise.then(forget, forget)
        return Effect.tryPromise({
          try: () => promise,
          catch: (error) => toKafkaError(error, "KafkaJsProducer.send")
        }).pipe(Effect.map((acks) => metadata(records, messages, chosen, acks)))
      })

    // Records kafkajs resolved without acknowledging go again (see internal/resend.ts).
    const send = (
      records: ReadonlyArray<ProducerRecord>
    ): Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError.KafkaError> =>
      (records.length === 0 ? Effect.succeed([]) : untilAcknowledged(records, sendOnce)).pipe(
        Effect.withSpan("KafkaJsProducer.send", { attributes: { records: records.length }, captureStackTrace: false })
      )

    return {
      name: "kafkajs",
      send,
      flush: Effect.asVoid(settle).pipe(Effect.withSpan("KafkaJsProducer.flush"))
    }
  })

/**
 * kafkajs acknowledges per partition with the base offset of what it wrote there, in the
 * order the records were given (`producer/groupMessagesPerPartition.js`), so the n-th record
 * of a partition landed at base + n.
 */
const metadata = (
  records: ReadonlyArray<ProducerRecord>,
  messages: ReadonlyArray<Message>,
  chosen: WeakMap<Message, number>,
  acks: ReadonlyArray<KafkaJsRecordMetadata>
): ReadonlyArray<RecordMetadata> => {
  const next = new Map<string, number>()
  for (const ack of acks) {
    if (ack.baseOffset !== undefined) next.set(`${ack.topicName}|${ack.partition}`, Number(ack.baseOffset))
  }
  return records.map((record, i) => {
    const partition = record.partition ?? chosen.get(messages[i]!) ?? -1
    const key = `${record.topic}|${partition}`
    const offset = next.get(key) ?? -1
    if (offset >= 0) next.set(key, offset + 1)
    return { topic: record.topic, partition, offset }
  })
}

/**
 * The producer driver as a layer: connected while the layer lives.
 *
 * @since 0.1.0
 */
export const layer = (
  config: KafkaJsConfig.KafkaJsConfig,
  options?: ProducerOptions
): Layer.Layer<ProducerDriver, KafkaError.KafkaError | SettingsError> =>
  Layer.scoped(ProducerDriver, make(config, options))

/**
 * Reads the producer options from configuration (the environment by default):
 * `KAFKA_IDEMPOTENT`.
 *
 * @since 0.2.0
 */
export const config: Config.Config<ProducerOptions> = Config.nested(
  Config.all({ idempotent: SettingsConfig.optional(Config.boolean("IDEMPOTENT")) }),
  SettingsConfig.prefix
)
