/**
 * The parts of `@confluentinc/kafka-javascript`'s native API (`lib/kafka-consumer.js`,
 * `lib/producer.js`, its node-rdkafka heritage) that the drivers use, typed as the client
 * behaves. Its own declarations (`types/rdkafka.d.ts`) leave out the incremental
 * (cooperative) calls, `assignmentLost` and `rebalanceProtocol`, so the drivers go through
 * these instead.
 *
 * File:line references in this package are to the client's 1.10.1 sources.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"

/** A property map as librdkafka takes it, callbacks included (`rebalance_cb`, …). */
export type Properties = Record<string, unknown>

export interface NativeTopicPartition {
  readonly topic: string
  readonly partition: number
  readonly offset?: number
  readonly metadata?: string | null
}

/** A header as the client hands it over: an object with one key (`src/common.cc`). */
export type NativeHeader = Readonly<Record<string, Buffer | string>>

export interface NativeMessage {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key?: Buffer | string | null
  readonly value: Buffer | null
  readonly timestamp?: number
  readonly headers?: ReadonlyArray<NativeHeader>
}

/** What the client passes to callbacks: a `LibrdKafkaError` (`lib/error.js`) or a plain `Error`. */
export type NativeError = Error & {
  readonly code?: number
  readonly isFatal?: boolean
  readonly isRetriable?: boolean
  /** A transactional call failed in a way that needs `abortTransaction` before the producer goes on. */
  readonly isTxnRequiresAbort?: boolean
}

export interface NativeMetadata {
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<unknown> }>
}

export interface NativeLog {
  readonly severity: number
  readonly fac: string
  readonly message: string
}

interface NativeClient {
  connect(
    options: { readonly timeout: number },
    cb: (error: NativeError | null, metadata: NativeMetadata) => void
  ): void
  disconnect(cb: (error: NativeError | null) => void): void
  on(event: "event.log", listener: (log: NativeLog) => void): void
  on(event: "event.error", listener: (error: NativeError) => void): void
  isConnected(): boolean
}

export interface NativeConsumer extends NativeClient {
  /** librdkafka's statistics, a JSON text, every `statistics.interval.ms` (`src/callbacks.cc:216-220`). */
  on(event: "event.stats", listener: (stats: { readonly message: string }) => void): void
  on(event: "event.log", listener: (log: NativeLog) => void): void
  on(event: "event.error", listener: (error: NativeError) => void): void
  subscribe(topics: ReadonlyArray<string>): void
  unsubscribe(): void
  /** Up to `size` messages: waits `setDefaultConsumeTimeout` for the first only (see `setDefaultIsTimeoutOnlyForFirstMessage`). */
  consume(size: number, cb: (error: NativeError | null, messages: ReadonlyArray<NativeMessage>) => void): void
  setDefaultConsumeTimeout(ms: number): void
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void
  assign(partitions: ReadonlyArray<NativeTopicPartition>): void
  unassign(): void
  incrementalAssign(partitions: ReadonlyArray<NativeTopicPartition>): void
  incrementalUnassign(partitions: ReadonlyArray<NativeTopicPartition>): void
  assignmentLost(): boolean
  /** Enqueues an asynchronous commit; the broker's answer comes to `offset_commit_cb`. */
  commit(offsets: ReadonlyArray<NativeTopicPartition>): void
  committed(
    partitions: ReadonlyArray<NativeTopicPartition>,
    timeout: number,
    cb: (error: NativeError | null, partitions: ReadonlyArray<NativeTopicPartition | Error>) => void
  ): void
  pause(partitions: ReadonlyArray<NativeTopicPartition>): void
  resume(partitions: ReadonlyArray<NativeTopicPartition>): void
  /**
   * The partition's watermarks as librdkafka cached them, no broker round trip: the high one is
   * set from every fetch response (`rdkafka_fetcher.c`, `rktp_hi_offset = HighwaterMarkOffset`),
   * the low one only with statistics on. A negative offset means not known yet
   * (`RD_KAFKA_OFFSET_INVALID`). Throws when the client is disconnected.
   */
  getWatermarkOffsets(topic: string, partition: number): { readonly lowOffset: number; readonly highOffset: number }
}

export interface NativeDeliveryReport {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly opaque: unknown
}

export interface NativeProducer extends NativeClient {
  produce(
    topic: string,
    partition: number | null,
    value: Buffer | null,
    key: Buffer | null,
    timestamp: number | null,
    opaque: unknown,
    headers: ReadonlyArray<NativeHeader> | undefined
  ): void
  flush(timeout: number, cb: (error: NativeError | null) => void): void
  setPollInterval(ms: number): void
  on(event: "delivery-report", listener: (error: NativeError | null, report: NativeDeliveryReport) => void): void
  on(event: "event.log", listener: (log: NativeLog) => void): void
  on(event: "event.error", listener: (error: NativeError) => void): void
}

/**
 * A transactional producer (`lib/producer.js:320-405`, `src/producer.cc:371-430`). Each call's
 * timeout is in milliseconds; `sendOffsetsToTransaction` takes the JavaScript `KafkaConsumer`
 * and sends its current group metadata (generation, member id, instance id: KIP-447).
 */
export interface NativeTransactionalProducer extends NativeProducer {
  initTransactions(timeout: number, cb: (error: NativeError | null) => void): void
  beginTransaction(cb: (error: NativeError | null) => void): void
  sendOffsetsToTransaction(
    offsets: ReadonlyArray<NativeTopicPartition>,
    consumer: NativeConsumer,
    timeout: number,
    cb: (error: NativeError | null) => void
  ): void
  commitTransaction(timeout: number, cb: (error: NativeError | null) => void): void
  abortTransaction(timeout: number, cb: (error: NativeError | null) => void): void
  setPollInBackground(on: boolean): void
}

/** `RD_KAFKA_OFFSET_STORED`: start at the committed offset, or `auto.offset.reset` without one. */
export const offsetStored = -1000

/** Throws what librdkafka refuses in the configuration (`src/config.cc`). */
export const makeConsumer = (properties: Properties, topicProperties: Properties): NativeConsumer =>
  new RdKafka.KafkaConsumer(properties as never, topicProperties as never) as unknown as NativeConsumer

/** Throws what librdkafka refuses in the configuration (`src/config.cc`). */
export const makeProducer = (properties: Properties): NativeProducer =>
  new RdKafka.Producer(properties as never) as unknown as NativeProducer
