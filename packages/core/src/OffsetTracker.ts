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

/**
 * The received offsets of one partition and which of them are finished; `frontier()` is the
 * offset a commit may name. A mutable object: each assigned partition's worker has its own.
 *
 * @since 0.1.0
 */
export class OffsetTracker {
  /** Received offsets, ascending, from `head` on; the ones before `head` are finished and dropped. */
  private offsets: Array<number> = []
  private states: Array<number> = []
  private head = 0
  private finishedAbove = 0
  private lastReceived = -1

  /**
   * Registers a received offset. Offsets must arrive in increasing order; a repeated or
   * older offset (a driver re-delivering after a seek) is ignored and reported as `false`.
   *
   * @since 0.1.0
   */
  receive(offset: number): boolean {
    if (offset <= this.lastReceived) return false
    this.offsets.push(offset)
    this.states.push(PENDING)
    this.lastReceived = offset
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
    const length = this.offsets.length
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
    if (this.head < this.offsets.length) return this.offsets[this.head]
    return this.lastReceived < 0 ? undefined : this.lastReceived + 1
  }

  /**
   * Received offsets not finished yet (buffered, in flight or dropped).
   *
   * @since 0.1.0
   */
  unfinished(): number {
    return this.offsets.length - this.head - this.finishedAbove
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
    for (let i = this.head; i < this.offsets.length; i++) {
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
    let hi = this.offsets.length - 1
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
   * Drops the finished prefix once it is both large and most of the arrays.
   *
   * @internal
   */
  private compact(): void {
    const head = this.head
    if (head < 1024 || head * 2 < this.offsets.length) return
    this.offsets = this.offsets.slice(head)
    this.states = this.states.slice(head)
    this.head = 0
  }
}

/**
 * A tracker with nothing received.
 *
 * @since 0.1.0
 */
export const make = (): OffsetTracker => new OffsetTracker()
