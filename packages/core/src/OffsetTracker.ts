/**
 * The commit frontier of one partition.
 *
 * The tracker holds the offsets received and not yet finished, in offset order. The
 * frontier — the offset a commit may name — is the lowest unfinished received offset, or the
 * last received + 1 when every received offset is finished. Only received offsets are
 * tracked, so gaps in a partition (compaction, transaction markers) never block it.
 *
 * Finishing is O(1) when records finish in offset order (`partition` mode, and per key in
 * `keyed` mode); out of order it is a binary search. Finished offsets above the frontier are
 * remembered until the frontier passes them.
 *
 * @since 0.1.0
 */

const PENDING = 0
const FINISHED = 1
/** Slots a new tracker starts with, and what one that grew past `keptSlots` shrinks back to. */
const initialSlots = 64
/** Slots kept once everything received is finished: more are given back. */
const keptSlots = 16_384

/**
 * The received offsets of one partition and which of them are finished; `frontier()` is the
 * offset a commit may name. A mutable object: each assigned partition's worker has its own.
 *
 * @since 0.1.0
 */
export class OffsetTracker {
  /**
   * Received offsets, ascending, in `[head, end)`; the ones before `head` are finished and
   * dropped. Typed arrays, grown by doubling and reused: their memory is outside the JavaScript
   * heap, so a consumer of many partitions neither has the collector scan them nor sees V8 size
   * its heap by them (12 partitions in plain arrays of 10,000 slots were 1.9 MB of the heap's
   * live set, about a tenth of it, bench workload 1). Slots past `end` are reused rather than made
   * anew: in partition mode everything received is finished before the next delivery.
   */
  private offsets = new Float64Array(initialSlots)
  private states = new Uint8Array(initialSlots)
  private head = 0
  private end = 0
  private finishedAbove = 0
  private lastReceived = -1

  /**
   * Makes room for `count` more offsets after `end`.
   *
   * @internal
   */
  private reserve(count: number): void {
    const needed = this.end + count
    if (needed <= this.offsets.length) return
    let size = this.offsets.length * 2
    while (size < needed) size *= 2
    const offsets = new Float64Array(size)
    const states = new Uint8Array(size)
    offsets.set(this.offsets.subarray(0, this.end))
    states.set(this.states.subarray(0, this.end))
    this.offsets = offsets
    this.states = states
  }

  /**
   * Registers a received offset. Offsets must arrive in increasing order; a repeated or
   * older offset (a driver re-delivering after a seek) is ignored and reported as `false`.
   *
   * @since 0.1.0
   */
  receive(offset: number): boolean {
    if (offset <= this.lastReceived) return false
    const end = this.end
    if (end === this.offsets.length) this.reserve(1)
    this.offsets[end] = offset
    this.states[end] = PENDING
    this.end = end + 1
    this.lastReceived = offset
    return true
  }

  /**
   * Registers `count` received offsets from `first` on, `first` to `first + count - 1`, when
   * they are all new (`first` above every offset received so far): a delivery without gaps,
   * registered without reading its records. Returns `false`, registering nothing, otherwise.
   *
   * @since 0.2.0
   */
  receiveRun(first: number, count: number): boolean {
    if (first <= this.lastReceived || count <= 0) return false
    this.reserve(count)
    const offsets = this.offsets
    const end = this.end
    for (let i = 0; i < count; i++) offsets[end + i] = first + i
    this.states.fill(PENDING, end, end + count)
    this.end = end + count
    this.lastReceived = first + count - 1
    return true
  }

  /**
   * Marks a received offset finished (handled, or settled by the error policy). Returns
   * `false` for an offset that is unknown or already finished.
   *
   * @since 0.1.0
   */
  finish(offset: number): boolean {
    const head = this.head
    const length = this.end
    if (head >= length) return false
    let index: number
    if (this.offsets[head] === offset) {
      index = head
    } else {
      index = this.search(offset)
      if (index < 0) return false
    }
    if (this.states[index] === FINISHED) return false
    this.states[index] = FINISHED
    if (index === head) {
      let next = head + 1
      while (next < length && this.states[next] === FINISHED) {
        next++
        this.finishedAbove--
      }
      this.head = next
      this.compact()
    } else {
      this.finishedAbove++
    }
    return true
  }

  /**
   * The offset a commit may name, or `undefined` before anything was received.
   *
   * @since 0.1.0
   */
  frontier(): number | undefined {
    if (this.head < this.end) return this.offsets[this.head]
    return this.lastReceived < 0 ? undefined : this.lastReceived + 1
  }

  /**
   * Received offsets not finished yet (buffered, in flight or dropped).
   *
   * @since 0.1.0
   */
  unfinished(): number {
    return this.end - this.head - this.finishedAbove
  }

  /**
   * The highest offset received, or -1.
   *
   * @since 0.1.0
   */
  highestReceived(): number {
    return this.lastReceived
  }

  /**
   * Finished offsets above the frontier, ascending (what a restart need not redo).
   *
   * @since 0.1.0
   */
  finishedAboveFrontier(): Array<number> {
    const out: Array<number> = []
    if (this.finishedAbove === 0) return out
    for (let i = this.head; i < this.end; i++) {
      if (this.states[i] === FINISHED) out.push(this.offsets[i]!)
    }
    return out
  }

  /**
   * Offsets between the frontier and the highest received, inclusive: the window.
   *
   * @since 0.1.0
   */
  window(): number {
    const frontier = this.frontier()
    return frontier === undefined ? 0 : Math.max(0, this.lastReceived - frontier + 1)
  }

  /** @internal */
  private search(offset: number): number {
    let lo = this.head
    let hi = this.end - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const value = this.offsets[mid]!
      if (value === offset) return mid
      if (value < offset) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }

  /**
   * Drops the finished prefix: at once when nothing else is left (the common case, O(1)),
   * else once it is both large and most of what is held.
   *
   * @internal
   */
  private compact(): void {
    const head = this.head
    const end = this.end
    if (head === end) {
      this.head = 0
      this.end = 0
      // A partition that once held far more than usual does not keep arrays of that size.
      if (this.offsets.length > keptSlots) {
        this.offsets = new Float64Array(initialSlots)
        this.states = new Uint8Array(initialSlots)
      }
      return
    }
    if (head < 1024 || head * 2 < end) return
    this.offsets.copyWithin(0, head, end)
    this.states.copyWithin(0, head, end)
    this.head = 0
    this.end = end - head
  }
}

/**
 * A tracker with nothing received.
 *
 * @since 0.1.0
 */
export const make = (): OffsetTracker => new OffsetTracker()
