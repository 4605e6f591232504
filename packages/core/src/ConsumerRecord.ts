/**
 * Records as the engine sees them (`RawRecord`, bytes as fetched) and as handlers see them
 * (`ConsumerRecord<K, V>`, decoded fields with the raw bytes still reachable).
 *
 * @since 0.1.0
 */
import type { TopicPartition } from "./TopicPartition.js"

/**
 * A record header. Kafka allows the same key more than once, so headers are a list.
 *
 * @since 0.1.0
 */
export interface Header {
  readonly key: string
  readonly value: Uint8Array | null
}

/**
 * A record exactly as a driver fetched it.
 *
 * Offsets are JavaScript numbers: exact up to 2^53, which a partition receiving a million
 * records a second reaches after 285 years. Numbers keep the offset tracker allocation-free.
 *
 * @since 0.1.0
 */
export interface RawRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<Header>
  /** Milliseconds since the epoch (create time or log-append time, as the topic says). */
  readonly timestamp: number
}

/**
 * What a handler receives: typed key and value, and the record as fetched in `raw`.
 *
 * @since 0.1.0
 */
export interface ConsumerRecord<K = Uint8Array | null, V = Uint8Array | null> {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key: K
  readonly value: V
  readonly headers: ReadonlyArray<Header>
  readonly timestamp: number
  readonly raw: RawRecord
}

/**
 * The empty, frozen header list, shared by records that carry no headers.
 *
 * @since 0.1.0
 */
export const noHeaders: ReadonlyArray<Header> = Object.freeze([])

/**
 * The untyped view of a raw record.
 *
 * @since 0.1.0
 */
export const fromRaw = (raw: RawRecord): ConsumerRecord => ({
  topic: raw.topic,
  partition: raw.partition,
  offset: raw.offset,
  key: raw.key,
  value: raw.value,
  headers: raw.headers,
  timestamp: raw.timestamp,
  raw
})

/**
 * The topic-partition a record (raw or typed) belongs to.
 *
 * @since 0.1.0
 */
export const topicPartition = (record: { readonly topic: string; readonly partition: number }): TopicPartition => ({
  topic: record.topic,
  partition: record.partition
})

/**
 * Reads a header as UTF-8 (the first one of that key).
 *
 * @since 0.1.0
 */
export const headerString = (headers: ReadonlyArray<Header>, key: string): string | undefined => {
  for (const header of headers) {
    if (header.key === key) return header.value === null ? undefined : new TextDecoder().decode(header.value)
  }
  return undefined
}
