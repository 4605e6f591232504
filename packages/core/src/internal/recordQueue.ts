import type { RawRecord } from "../ConsumerRecord.js"

/**
 * A FIFO of records with O(1) push and shift and no per-record allocation: a plain array
 * read from a moving head, compacted once the consumed prefix dominates it.
 */
export class RecordQueue {
  private items: Array<RawRecord | undefined> = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(record: RawRecord): void {
    this.items.push(record)
  }

  shift(): RawRecord | undefined {
    const items = this.items
    if (this.head >= items.length) return undefined
    const record = items[this.head]
    items[this.head] = undefined
    this.head++
    if (this.head === items.length) {
      this.items = []
      this.head = 0
    } else if (this.head >= 4096 && this.head * 2 >= items.length) {
      this.items = items.slice(this.head)
      this.head = 0
    }
    return record
  }

  /** Empties the queue and returns how many records it held. */
  clear(): number {
    const dropped = this.length
    this.items = []
    this.head = 0
    return dropped
  }
}
