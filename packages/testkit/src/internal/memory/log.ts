/**
 * The log: topics, their partitions and records, and the offsets records get. Produce
 * chooses partitions (explicit, by key with murmur2, round-robin) and appends; nothing here
 * knows about groups.
 *
 * Owns: `topics` and every record ever produced (a record is never changed or removed).
 * May touch: nothing else. It reports a topic whose partitions changed and a topic that
 * received records through its `LogListener`, which the cluster wires to the groups.
 */

import { noHeaders, type RawRecord } from "@sluice/core/ConsumerRecord"
import type * as KafkaError from "@sluice/core/KafkaError"
import type { ProducerRecord, RecordMetadata } from "@sluice/core/ProducerDriver"
import type * as MemoryKafka from "../../MemoryKafka.js"
import { kafkaError } from "./errors.js"
import { partitionForKey } from "./murmur2.js"

/**
 * Bytes a record counts for against `maxBytesPerPartition`, besides its key, value and
 * headers: roughly Kafka's per-record framing, so that empty records still fill a fetch.
 */
const RECORD_OVERHEAD = 16

const recordSize = (record: RawRecord): number => {
  let size = RECORD_OVERHEAD + (record.key === null ? 0 : record.key.length)
  if (record.value !== null) size += record.value.length
  const headers = record.headers
  for (let i = 0; i < headers.length; i++) size += headers[i]!.key.length + (headers[i]!.value?.length ?? 0)
  return size
}

/**
 * A transaction as the log sees it (`transactions.ts` drives it): its records are invisible to
 * readers until it commits, and stay invisible when it aborts. `marker` is the state of a
 * commit or abort marker, the control record Kafka writes at an offset of its own.
 */
export interface LogTransaction {
  state: "open" | "committed" | "aborted" | "marker"
  /** The partitions it wrote to. */
  readonly logs: Set<PartitionLog>
}

/** The state of every transaction marker. */
const marker: LogTransaction = { state: "marker", logs: new Set() }

export class PartitionLog {
  readonly records: Array<RawRecord> = []
  /** `bytes[i]` is the size of `records[0..i)`: a batch's size in O(1), its byte bound by bisection. */
  readonly bytes: Array<number> = [0]
  /** The transaction of each transactional record and marker, by offset (empty: none ever written). */
  readonly transactional = new Map<number, LogTransaction>()
  /** The first offset of each open transaction on this partition: readers stop before the lowest. */
  readonly open = new Map<LogTransaction, number>()

  constructor(
    readonly topic: string,
    readonly partition: number
  ) {}

  append(record: RawRecord): void {
    this.records.push(record)
    this.bytes.push(this.bytes[this.bytes.length - 1]! + recordSize(record))
  }

  /**
   * The last stable offset: what a `read_committed` reader may read up to (excluded), below the
   * first record of the earliest open transaction.
   */
  stableEnd(): number {
    if (this.open.size === 0) return this.records.length
    let end = this.records.length
    for (const first of this.open.values()) if (first < end) end = first
    return end
  }

  /** Whether a `read_committed` reader sees the record at `offset` (below `stableEnd`). */
  visible(offset: number): boolean {
    if (this.transactional.size === 0) return true
    const txn = this.transactional.get(offset)
    return txn === undefined || txn.state === "committed"
  }

  /** The records of `[from, to)` a `read_committed` reader sees: no marker, nothing aborted. */
  readCommitted(from: number, to: number): Array<RawRecord> {
    const slice = this.records.slice(from, to)
    return this.transactional.size === 0 ? slice : slice.filter((r) => this.visible(r.offset))
  }

  /** Ends `txn` on this partition: its marker takes the next offset. */
  endTransaction(txn: LogTransaction, now: number): void {
    this.open.delete(txn)
    const offset = this.records.length
    this.transactional.set(offset, marker)
    this.append({
      topic: this.topic,
      partition: this.partition,
      offset,
      key: null,
      value: null,
      headers: noHeaders,
      timestamp: now
    })
  }

  /** The end of a batch from `from`: at most `maxRecords` and `maxBytes`, at least one record. */
  batchEnd(from: number, maxRecords: number, maxBytes: number): number {
    const to = Math.min(this.records.length, from + maxRecords)
    const base = this.bytes[from]!
    if (this.bytes[to]! - base <= maxBytes) return to
    let lo = from + 1
    let hi = to
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.bytes[mid]! - base <= maxBytes) lo = mid
      else hi = mid - 1
    }
    return lo
  }
}

export class Topic {
  readonly partitions: Array<PartitionLog> = []
  /** Where the next keyless record goes (round-robin). */
  next = 0

  constructor(
    readonly name: string,
    partitions: number
  ) {
    this.grow(partitions)
  }

  grow(partitions: number): void {
    for (let p = this.partitions.length; p < partitions; p++) this.partitions.push(new PartitionLog(this.name, p))
  }
}

/** What the log tells the rest of the cluster. */
export interface LogListener {
  /** A topic was created or grew: the groups subscribed to it rebalance, as after a metadata refresh. */
  readonly partitionsChanged: (topic: string) => void
  /** Records were appended to `topic`: the poll loops reading it wake. */
  readonly appended: (topic: string) => void
}

export class Logs {
  readonly topics = new Map<string, Topic>()

  constructor(
    private readonly options: MemoryKafka.Options,
    private readonly listener: LogListener
  ) {}

  createTopic(name: string, partitions: number): KafkaError.KafkaError | undefined {
    if (name.length === 0 || name.includes("|")) return kafkaError("createTopic", "protocol", `invalid topic "${name}"`)
    if (!Number.isInteger(partitions) || partitions < 1) {
      return kafkaError("createTopic", "protocol", `invalid partition count ${partitions} for "${name}"`)
    }
    const existing = this.topics.get(name)
    if (existing !== undefined) {
      return existing.partitions.length === partitions
        ? undefined
        : kafkaError(
            "createTopic",
            "protocol",
            `topic "${name}" already exists with ${existing.partitions.length} partitions`
          )
    }
    this.topics.set(name, new Topic(name, partitions))
    this.listener.partitionsChanged(name)
    return undefined
  }

  createPartitions(name: string, partitions: number): KafkaError.KafkaError | undefined {
    const topic = this.topics.get(name)
    if (topic === undefined) return kafkaError("createPartitions", "protocol", `unknown topic "${name}"`)
    if (!Number.isInteger(partitions) || partitions <= topic.partitions.length) {
      return kafkaError(
        "createPartitions",
        "protocol",
        `"${name}" has ${topic.partitions.length} partitions; a topic can only grow`
      )
    }
    topic.grow(partitions)
    this.listener.partitionsChanged(name)
    return undefined
  }

  /** Removes a topic and its records; the groups subscribed to it rebalance without it. */
  deleteTopic(name: string): boolean {
    if (!this.topics.delete(name)) return false
    this.listener.partitionsChanged(name)
    return true
  }

  /** Tells the poll loops reading `topic` that it changed (a transaction ended). */
  appended(topic: string): void {
    this.listener.appended(topic)
  }

  log(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition]
  }

  /** Partitions of `topic`, or undefined if it does not exist. */
  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length
  }

  /**
   * Appends `records`; with `txn`, as part of that open transaction (invisible to readers until
   * it commits).
   */
  produce(
    records: ReadonlyArray<ProducerRecord>,
    now: number,
    txn?: LogTransaction
  ): ReadonlyArray<RecordMetadata> | KafkaError.KafkaError {
    // Partitions are chosen for the whole batch before anything is appended: a send that
    // fails appends nothing.
    const targets = new Array<PartitionLog>(records.length)
    let topic: Topic | undefined
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      if (topic === undefined || topic.name !== record.topic) topic = this.topics.get(record.topic)
      if (topic === undefined) {
        if (!this.options.autoCreateTopics) {
          return kafkaError("send", "protocol", `unknown topic "${record.topic}" (autoCreateTopics is off)`)
        }
        const error = this.createTopic(record.topic, this.options.partitions)
        if (error !== undefined) return error
        topic = this.topics.get(record.topic)!
      }
      const count = topic.partitions.length
      let partition: number
      if (record.partition !== undefined) {
        partition = record.partition
        if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
          return kafkaError("send", "protocol", `unknown partition ${record.topic}-${partition}`)
        }
      } else if (record.key !== null) {
        partition = partitionForKey(record.key, count)
      } else {
        partition = topic.next
        topic.next = (topic.next + 1) % count
      }
      targets[i] = topic.partitions[partition]!
    }
    // The stored objects are the ones consumers receive and `send` returns: one allocation
    // per record for the whole trip.
    const out = new Array<RawRecord>(records.length)
    const touched = new Set<string>()
    let last = ""
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      const log = targets[i]!
      const raw: RawRecord = {
        topic: log.topic,
        partition: log.partition,
        offset: log.records.length,
        key: record.key,
        value: record.value,
        headers: record.headers ?? noHeaders,
        timestamp: record.timestamp ?? now
      }
      log.append(raw)
      if (txn !== undefined) {
        log.transactional.set(raw.offset, txn)
        if (!log.open.has(txn)) log.open.set(txn, raw.offset)
        txn.logs.add(log)
      }
      out[i] = raw
      if (log.topic !== last) {
        last = log.topic
        touched.add(last)
      }
    }
    for (const topic of touched) this.listener.appended(topic)
    return out
  }
}
