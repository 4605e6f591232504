/**
 * Backpressure by pausing (G6): a partition whose buffer, window or the total of all buffers
 * reaches its limit is paused at the driver, so the driver's poll loop (and with it the
 * heartbeats) never waits for a handler. It is resumed once its buffer and window are back
 * below half their limits while the total is below half its own; the check runs after records
 * are taken, so a paused partition resumes as soon as draining makes room.
 *
 * Owns the count of buffered records across partitions and the set of paused workers. Touches a
 * worker's `buffer` (take, clear), `paused` and, through `Worker.begin`, its in-flight count.
 * Called by the engine (delivery), the processors (through their `Flow`: take, resume) and
 * revocation (drop); every call is synchronous except the pause and resume it returns.
 */
import * as Effect from "effect/Effect"
import { ConsumerEvent } from "../ConsumerEvent.js"
import type { RawRecord } from "../ConsumerRecord.js"
import type { ConsumerSettings } from "../ConsumerSettings.js"
import type { Publish } from "./metrics.js"
import type { SessionHandle } from "./session.js"
import type { Worker } from "./worker.js"

export class Backpressure {
  /** Records in all buffers: appended by the engine, not yet taken or dropped. */
  private buffered = 0
  private readonly paused = new Set<Worker>()
  private readonly lowPerPartition: number
  private readonly lowTotal: number
  private readonly lowWindow: number

  constructor(
    private readonly settings: ConsumerSettings,
    private readonly session: SessionHandle,
    private readonly publish: Publish
  ) {
    this.lowPerPartition = Math.floor(settings.buffer.perPartition / 2)
    this.lowTotal = Math.floor(settings.buffer.total / 2)
    this.lowWindow = Math.floor(settings.maxWindow / 2)
  }

  /**
   * Counts `count` records the engine just appended to `worker`'s buffer. `true` when the
   * partition must pause now: a limit is reached and it is not paused yet.
   */
  added(worker: Worker, count: number): boolean {
    this.buffered += count
    return (
      !worker.paused &&
      (worker.buffer.length >= this.settings.buffer.perPartition ||
        this.buffered >= this.settings.buffer.total ||
        worker.tracker.window() >= this.settings.maxWindow)
    )
  }

  pause(worker: Worker): Effect.Effect<void> {
    worker.paused = true
    this.paused.add(worker)
    return Effect.zipRight(
      this.session.control(true, worker.topicPartition),
      this.publish(ConsumerEvent.Paused({ partition: worker.topicPartition, buffered: worker.buffer.length }))
    )
  }

  /** Takes the next buffered record of `worker`, now in flight, or `undefined` when none is buffered. */
  take(worker: Worker): RawRecord | undefined {
    const record = worker.buffer.shift()
    if (record === undefined) return undefined
    this.buffered--
    worker.begin(record.offset)
    return record
  }

  /**
   * Whether `resume` would do anything now: a paused partition drained below its low-water
   * marks (or stopped running) while the total is below its own. Checked per record, so it
   * allocates nothing: a partition paused at its buffer's limit stays paused for half a buffer
   * of records, and running `resume` for each of them cost an effect per record for nothing.
   */
  get resumable(): boolean {
    if (this.paused.size === 0 || this.buffered > this.lowTotal) return false
    for (const worker of this.paused) {
      if (
        worker.state !== "running" ||
        (worker.buffer.length <= this.lowPerPartition && worker.tracker.window() <= this.lowWindow)
      ) {
        return true
      }
    }
    return false
  }

  /** Resumes every paused partition that drained below its low-water marks (G6). */
  resume(): Effect.Effect<void> {
    if (this.paused.size === 0 || this.buffered > this.lowTotal) return Effect.void
    const resumed: Array<Worker> = []
    for (const worker of this.paused) {
      if (worker.state !== "running") {
        this.paused.delete(worker)
      } else if (worker.buffer.length <= this.lowPerPartition && worker.tracker.window() <= this.lowWindow) {
        worker.paused = false
        this.paused.delete(worker)
        resumed.push(worker)
      }
    }
    if (resumed.length === 0) return Effect.void
    return Effect.forEach(
      resumed,
      (worker) =>
        Effect.zipRight(
          this.session.control(false, worker.topicPartition),
          this.publish(ConsumerEvent.Resumed({ partition: worker.topicPartition, buffered: worker.buffer.length }))
        ),
      { discard: true }
    )
  }

  /** Drops what `worker` buffered and forgets it (revocation, loss); returns how many records it dropped. */
  drop(worker: Worker): number {
    const count = worker.buffer.clear()
    this.buffered -= count
    this.paused.delete(worker)
    return count
  }
}
