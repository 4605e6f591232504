/**
 * Workload 4: memory. Many records through the engine on the simulated cluster (partition
 * mode, no-op handler); the resident set size is sampled throughout and must stay flat.
 *
 * Every record is produced before the run starts, so that the cluster's log (which keeps
 * every record, as a topic does) is full from the first sample on and whatever grows during
 * the run is the consumer's. Records share one value buffer to keep the log small.
 *
 * Samples are taken from the handler, every `records / samples` records: on the simulated
 * cluster the engine runs on microtasks without ever yielding to the timer queue, so a
 * `setInterval` sampler would not run before the end.
 */
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import { args, die, emit, gc, now } from "../lib/common.js"
import { Progress, produceRoundRobin, runUntilDone } from "../lib/sluice.js"

export interface MemoryArgs {
  readonly records: number
  readonly partitions: number
  /** Samples taken over the run, evenly by records handled. */
  readonly samples: number
}

export interface MemorySample {
  /** Records handled when the sample was taken. */
  readonly records: number
  readonly seconds: number
  readonly rssBytes: number
  readonly heapUsedBytes: number
}

export interface MemoryResult {
  readonly seconds: number
  readonly samples: ReadonlyArray<MemorySample>
  /** RSS when the cluster's log was full, before consuming started. */
  readonly baselineRssBytes: number
}

const topic = "bench-memory"

const program = (a: MemoryArgs) =>
  Effect.gen(function* () {
    const handle = yield* MemoryKafka.MemoryKafka
    yield* produceRoundRobin(handle, {
      topic,
      partitions: a.partitions,
      records: a.records,
      chunk: 50_000,
      key: () => null,
      value: new Uint8Array(100)
    })
    gc()
    const baselineRssBytes = process.memoryUsage.rss()
    const progress = yield* Progress.make(a.records)
    const samples: Array<MemorySample> = []
    const started = now()
    const sample = () => {
      const memory = process.memoryUsage()
      samples.push({
        records: progress.count,
        seconds: (now() - started) / 1000,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed
      })
    }
    const every = Math.max(1, Math.floor(a.records / a.samples))
    let untilSample = every
    const consumer = yield* Consumer.make(yield* ConsumerSettings.make({ groupId: "bench-memory" }))
    yield* runUntilDone(
      consumer,
      {
        topics: [topic],
        handler: () =>
          Effect.sync(() => {
            progress.start()
            progress.tick()
            if (--untilSample === 0) {
              untilSample = every
              sample()
            }
          })
      },
      progress,
      1_800_000
    )
    if (samples.at(-1)?.records !== progress.count) sample()
    return { seconds: progress.seconds, samples, baselineRssBytes } satisfies MemoryResult
  }).pipe(Effect.provide(MemoryKafka.layer({ partitions: args<MemoryArgs>().partitions })))

Effect.runPromise(program(args<MemoryArgs>())).then(emit, die)
