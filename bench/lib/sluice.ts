/**
 * Sluice on the simulated cluster: filling a topic before the clock starts, running a
 * consumer until it has handled a given number of records, and timing it.
 */
import type * as Consumer from "@sluice/core/Consumer"
import type { KafkaError } from "@sluice/core/KafkaError"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import type * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { now } from "./common.js"

export type ModeName = "partition" | "keyed" | "unordered"

export const mode = (name: ModeName, concurrency: number): ProcessingMode.ProcessingMode =>
  name === "partition"
    ? ProcessingMode.partition
    : name === "keyed"
      ? ProcessingMode.keyed({ concurrency })
      : ProcessingMode.unordered({ concurrency })

export interface Fill {
  readonly topic: string
  readonly partitions: number
  readonly records: number
  /** Records per `produce` call: bounds the garbage a call leaves. */
  readonly chunk: number
  /** The key of the `i`-th record (round-robin over the partitions). */
  readonly key: (i: number) => Uint8Array | null
  /** One value for every record, which keeps the cluster's log small. */
  readonly value: Uint8Array
  /** The headers of the `i`-th record, if any. */
  readonly headers?: ((i: number) => ReadonlyArray<{ readonly key: string; readonly value: Uint8Array }>) | undefined
}

/** Creates `fill.topic` and produces its records into it, record `i` into partition `i mod partitions`. */
export const produceRoundRobin = (handle: MemoryKafka.Handle, fill: Fill): Effect.Effect<void, KafkaError> =>
  Effect.gen(function* () {
    yield* handle.createTopic(fill.topic, fill.partitions)
    for (let from = 0; from < fill.records; from += fill.chunk) {
      const batch: Array<ProducerRecord> = []
      for (let i = from; i < Math.min(fill.records, from + fill.chunk); i++) {
        batch.push({
          topic: fill.topic,
          partition: i % fill.partitions,
          key: fill.key(i),
          value: fill.value,
          headers: fill.headers?.(i)
        })
      }
      yield* handle.produce(batch)
    }
  })

/** Counts handled records; `first` is when the first handler started, `last` when the target was reached. */
export class Progress {
  count = 0
  first = 0
  last = 0
  firstCpu: NodeJS.CpuUsage | undefined = undefined
  lastCpu: NodeJS.CpuUsage | undefined = undefined

  constructor(
    readonly target: number,
    readonly done: Deferred.Deferred<void>
  ) {}

  static make(target: number): Effect.Effect<Progress> {
    return Effect.map(Deferred.make<void>(), (done) => new Progress(target, done))
  }

  /** A handler started. */
  start(): void {
    if (this.first === 0) {
      this.first = now()
      this.firstCpu = process.cpuUsage()
    }
  }

  /** A handler finished. */
  tick(): void {
    if (++this.count === this.target) {
      this.last = now()
      this.lastCpu = process.cpuUsage(this.firstCpu)
      Deferred.unsafeDone(this.done, Exit.void)
    }
  }

  /** Ticks `n` at once (the driver-only baseline counts batches). */
  add(n: number): void {
    if (this.first === 0) this.start()
    const before = this.count
    this.count += n
    if (before < this.target && this.count >= this.target) {
      this.last = now()
      this.lastCpu = process.cpuUsage(this.firstCpu)
      Deferred.unsafeDone(this.done, Exit.void)
    }
  }

  /** First handler start to last handler end. */
  get seconds(): number {
    return (this.last - this.first) / 1000
  }

  /** CPU time (user + system, all threads) over the same span. */
  get cpuSeconds(): number {
    return this.lastCpu === undefined ? Number.NaN : (this.lastCpu.user + this.lastCpu.system) / 1e6
  }
}

/**
 * Runs `options` on `consumer` until `progress` reaches its target (or the run fails), then
 * interrupts it: a graceful shutdown that drains, commits and leaves.
 */
export const runUntilDone = <E, R>(
  consumer: Consumer.ConsumerService,
  options: Consumer.RunOptions<E, R>,
  progress: Progress,
  timeout: number
): Effect.Effect<void, unknown, R> =>
  Effect.gen(function* () {
    const run = yield* Effect.fork(consumer.run(options))
    const finished = yield* Effect.raceFirst(Deferred.await(progress.done), Fiber.join(run)).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new Error(`timed out: ${progress.count} of ${progress.target} records handled`)
      }),
      Effect.exit
    )
    yield* Fiber.interrupt(run)
    if (Exit.isFailure(finished)) return yield* Effect.failCause(finished.cause)
  })
