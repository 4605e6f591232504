/**
 * The producer: typed `send` through a topic's codecs, on a `ProducerDriver`. The
 * dead-letter policy uses it; users use it for consume-transform-produce (at least once).
 *
 * Each send runs in a `send <topic>` span (kind producer). When the application's tracer
 * exports spans (e.g. `@effect/opentelemetry`), every record sent carries that span's context
 * in a W3C `traceparent` header, so the consumer's `process <topic>` span is its child.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Tracing from "./internal/tracing.js"
import * as Validate from "./internal/validate.js"
import type { KafkaError } from "./KafkaError.js"
import { ProducerDriver, type ProducerRecord, type RecordMetadata } from "./ProducerDriver.js"
import type { SettingsError } from "./SettingsError.js"
import * as Topic from "./Topic.js"

/**
 * A value could not be encoded with its topic's codec; nothing of the batch was sent.
 *
 * @since 0.1.0
 */
export class EncodeError extends Data.TaggedError("EncodeError")<{
  readonly topic: string
  readonly field: "key" | "value"
  readonly message: string
}> {}

/**
 * A typed record to send to a topic.
 *
 * @since 0.1.0
 */
export interface OutgoingRecord<K, V, H> {
  readonly key: K
  readonly value: V
  readonly headers?: H | undefined
  /** A partition number (a non-negative integer); by default the driver's partitioner picks (by key). */
  readonly partition?: number | undefined
  /** Milliseconds since the epoch (a non-negative integer); by default the broker's or client's time. */
  readonly timestamp?: number | undefined
}

/**
 * The producer's operations.
 *
 * @since 0.1.0
 */
export interface ProducerService {
  /**
   * Encodes with the topic's codecs and sends; completes when the broker acknowledged all.
   * A bad topic name, partition or timestamp fails with a `SettingsError` and sends nothing.
   */
  readonly send: <K, V, H>(
    topic: Topic.Topic<K, V, H>,
    records: ReadonlyArray<OutgoingRecord<K, V, H>>
  ) => Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError | EncodeError | SettingsError>
  /** Sends records that are already bytes (e.g. a dead letter: the original record's bytes). */
  readonly sendRaw: (
    records: ReadonlyArray<ProducerRecord>
  ) => Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError | SettingsError>
  /** Waits until everything sent so far is acknowledged. */
  readonly flush: Effect.Effect<void, KafkaError>
}

/**
 * The producer as a service.
 *
 * @since 0.1.0
 */
export class Producer extends Context.Tag("@sluice/core/Producer")<Producer, ProducerService>() {}

const encoder = new TextEncoder()

/** The topic every record goes to, or `undefined` when they go to several (or none). */
const sameTopic = (records: ReadonlyArray<ProducerRecord>): string | undefined => {
  const topic = records[0]?.topic
  for (let i = 1; i < records.length; i++) if (records[i]!.topic !== topic) return undefined
  return topic
}

const encodeAll = <K, V, H>(
  topic: Topic.Topic<K, V, H>,
  records: ReadonlyArray<OutgoingRecord<K, V, H>>
): Either.Either<Array<ProducerRecord>, EncodeError> => {
  const out: Array<ProducerRecord> = []
  for (const record of records) {
    const key = topic.key.encode(record.key)
    if (Either.isLeft(key))
      return Either.left(new EncodeError({ topic: topic.name, field: "key", message: key.left.message }))
    const value = topic.value.encode(record.value)
    if (Either.isLeft(value)) {
      return Either.left(new EncodeError({ topic: topic.name, field: "value", message: value.left.message }))
    }
    out.push({
      topic: topic.name,
      partition: record.partition,
      key: key.right,
      value: value.right,
      headers: record.headers === undefined ? undefined : topic.headers.encode(record.headers),
      timestamp: record.timestamp
    })
  }
  return Either.right(out)
}

/** The partitions and timestamps of a batch, checked before anything of it is sent. */
const checkRecords = (
  records: ReadonlyArray<{ readonly partition?: number | undefined; readonly timestamp?: number | undefined }>
): Effect.Effect<void, SettingsError> => {
  for (let i = 0; i < records.length; i++) {
    const { partition, timestamp } = records[i]!
    if (partition !== undefined && !(Number.isInteger(partition) && partition >= 0 && partition <= Validate.maxInt32)) {
      return Validate.nonNegativeInt(`records[${i}].partition`, partition, Validate.maxInt32)
    }
    if (timestamp !== undefined && !(Number.isSafeInteger(timestamp) && timestamp >= 0)) {
      return Validate.nonNegativeInt(`records[${i}].timestamp`, timestamp)
    }
  }
  return Effect.void
}

/**
 * The producer on the `ProducerDriver` in context. Topics and topic names are checked on
 * their first send (and remembered, so a topic sent to often is checked once).
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<ProducerService, never, ProducerDriver> = Effect.map(ProducerDriver, (driver) => {
  const checkedTopics = new WeakSet<Topic.Topic<any, any, any>>()
  const checkedNames = new Set<string>()
  const checkTopic = <K, V, H>(topic: Topic.Topic<K, V, H>): Effect.Effect<void, SettingsError> =>
    checkedTopics.has(topic)
      ? Effect.void
      : Effect.map(Topic.validate(topic), () => {
          checkedTopics.add(topic)
        })
  const checkNames = (records: ReadonlyArray<ProducerRecord>): Effect.Effect<void, SettingsError> =>
    Effect.forEach(
      records,
      (record, i) =>
        checkedNames.has(record.topic)
          ? Effect.void
          : Effect.map(Validate.topicName(`records[${i}].topic`, record.topic), (name) => {
              checkedNames.add(name)
            }),
      { discard: true }
    )
  /**
   * Sends `records` in a `send <topic>` span (kind producer, the messaging conventions'
   * attributes) and, when a tracer exports it, writes the span's context into each record's
   * `traceparent` header: a consumer's `process` span becomes its child (O1).
   */
  const sendTraced = (records: ReadonlyArray<ProducerRecord>) => {
    const topic = sameTopic(records)
    return Effect.flatMap(Tracing.exporting, (exporting) =>
      exporting
        ? Effect.flatMap(Effect.orDie(Effect.currentSpan), (span) => {
            const value = encoder.encode(Tracing.format(span))
            return driver.send(records.map((r) => ({ ...r, headers: Tracing.withTraceparent(r.headers, value) })))
          })
        : driver.send(records)
    ).pipe(
      Effect.withSpan(topic === undefined ? "send" : `send ${topic}`, {
        kind: "producer",
        captureStackTrace: false,
        attributes: {
          "messaging.system": "kafka",
          "messaging.operation.name": "send",
          "messaging.operation.type": "send",
          ...(topic === undefined ? {} : { "messaging.destination.name": topic }),
          ...(records.length === 1 ? {} : { "messaging.batch.message_count": records.length })
        }
      })
    )
  }
  return {
    send: (topic, records) =>
      Effect.zipRight(
        Effect.zipRight(checkTopic(topic), checkRecords(records)),
        Effect.flatMap(encodeAll(topic, records), sendTraced)
      ),
    sendRaw: (records) =>
      Effect.zipRight(Effect.zipRight(checkNames(records), checkRecords(records)), sendTraced(records)),
    flush: driver.flush
  }
})

/**
 * The producer as a layer, on a `ProducerDriver` (a driver's own layer, e.g. `KafkaJs.layer`,
 * provides both).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Producer, never, ProducerDriver> = Layer.effect(Producer, make)
