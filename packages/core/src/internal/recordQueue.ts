import type { RawRecord } from "../ConsumerRecord.js"

/** Chunk slots kept once the queue empties; a queue that held more gets a new array then. */
const keptSlots = 1_024

/**
 * A FIFO of records, held as the arrays they were delivered in: a delivery is queued in O(1)
 * without reading its records, and taking a record is O(1) without allocating.
 *
 * Why chunks: copying a delivery record by record into one array read every record once more
 * on arrival, and on a broker the records of a partition lie far apart in memory, so each read
 * was a cache miss (40–70 ns a record, a tenth of partition mode's time; bench workload 2).
 * The cost is that a chunk's array keeps the records already taken from it until the last is
 * taken: at most one delivery's worth per partition.
 */
export class RecordQueue {
  /** Chunks in `[head, end)`; slots before `head` and from `end` on are empty and reused. */
  private chunks: Array<ReadonlyArray<RawRecord> | undefined> = []
  private head = 0
  private end = 0
  /** The next record's index in `chunks[head]`. */
  private index = 0
  private size = 0

  get length(): number {
    return this.size
  }

  /** Queues `records` (the caller gives up changing the array). */
  pushAll(records: ReadonlyArray<RawRecord>): void {
    if (records.length === 0) return
    const chunks = this.chunks
    if (this.end < chunks.length) chunks[this.end] = records
    else chunks.push(records)
    this.end++
    this.size += records.length
  }

  shift(): RawRecord | undefined {
    if (this.size === 0) return undefined
    const chunk = this.chunks[this.head]!
    const record = chunk[this.index++]
    this.size--
    if (this.index === chunk.length) this.nextChunk()
    return record
  }

  /** Empties the queue and returns how many records it held. */
  clear(): number {
    const dropped = this.size
    this.chunks = []
    this.head = 0
    this.end = 0
    this.index = 0
    this.size = 0
    return dropped
  }

  /** The chunk at `head` is used up: frees its slot and goes on to the next. */
  private nextChunk(): void {
    const chunks = this.chunks
    chunks[this.head] = undefined
    this.index = 0
    const head = this.head + 1
    if (head === this.end) {
      this.head = 0
      this.end = 0
      if (chunks.length > keptSlots) this.chunks = []
    } else if (head >= keptSlots && head * 2 >= this.end) {
      // Never emptied for long: move what is queued to the front, so the array stays bounded.
      const count = this.end - head
      for (let i = 0; i < count; i++) {
        chunks[i] = chunks[head + i]
        chunks[head + i] = undefined
      }
      this.head = 0
      this.end = count
    } else {
      this.head = head
    }
  }
}
