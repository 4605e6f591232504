/**
 * The producer: typed `send` through a topic's codecs, on a `ProducerDriver`. The
 * dead-letter policy uses it; users use it for consume-transform-produce (at least once).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { ProducerDriver, type ProducerRecord, type RecordMetadata } from "./ConsumerDriver.js"
import type { KafkaError } from "./KafkaError.js"
import type { Topic } from "./Topic.js"

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

/** @since 0.1.0 */
export interface OutgoingRecord<K, V, H> {
  readonly key: K
  readonly value: V
  readonly headers?: H | undefined
  readonly partition?: number | undefined
  readonly timestamp?: number | undefined
}

/** @since 0.1.0 */
export interface ProducerService {
  /** Encodes with the topic's codecs and sends; completes when the broker acknowledged all. */
  readonly send: <K, V, H>(
    topic: Topic<K, V, H>,
    records: ReadonlyArray<OutgoingRecord<K, V, H>>
  ) => Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError | EncodeError>
  /** Sends records that are already bytes (e.g. a dead letter: the original record's bytes). */
  readonly sendRaw: (records: ReadonlyArray<ProducerRecord>) => Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError>
  readonly flush: Effect.Effect<void, KafkaError>
}

/**
 * The producer as a service.
 *
 * @since 0.1.0
 */
export class Producer extends Context.Tag("@sluice/core/Producer")<Producer, ProducerService>() {}

const encodeAll = <K, V, H>(
  topic: Topic<K, V, H>,
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

/** @since 0.1.0 */
export const make: Effect.Effect<ProducerService, never, ProducerDriver> = Effect.map(ProducerDriver, (driver) => ({
  send: (topic, records) =>
    Effect.flatMap(encodeAll(topic, records), driver.send).pipe(
      Effect.withSpan("Producer.send", { attributes: { topic: topic.name, records: records.length } })
    ),
  sendRaw: (records) => driver.send(records).pipe(Effect.withSpan("Producer.sendRaw")),
  flush: driver.flush
}))

/** @since 0.1.0 */
export const layer: Layer.Layer<Producer, never, ProducerDriver> = Layer.effect(Producer, make)
