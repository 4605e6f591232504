/**
 * The port a Kafka client implements so that records can be produced: `send` (acknowledged
 * by the broker) and `flush`. The `Producer` service encodes typed records on top of it.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { KafkaError } from "./KafkaError.js"

/**
 * A record to produce.
 *
 * @since 0.1.0
 */
export interface ProducerRecord {
  readonly topic: string
  readonly partition?: number | undefined
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers?: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | null }> | undefined
  readonly timestamp?: number | undefined
}

/**
 * Where a produced record landed.
 *
 * @since 0.1.0
 */
export interface RecordMetadata {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/**
 * The producer side of a Kafka client. `send` completes when the broker acknowledged every
 * record (with the driver's acks setting; all replicas by default).
 *
 * @since 0.1.0
 */
export class ProducerDriver extends Context.Tag("@sluice/core/ProducerDriver")<
  ProducerDriver,
  {
    /** A name for logs and diagnostics, e.g. "kafkajs" or "memory". */
    readonly name: string
    readonly send: (records: ReadonlyArray<ProducerRecord>) => Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError>
    /** Waits until everything sent so far is acknowledged. */
    readonly flush: Effect.Effect<void, KafkaError>
  }
>() {}
