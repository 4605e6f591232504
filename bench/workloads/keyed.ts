/**
 * Workload 3: keyed concurrency, Parallel Consumer's setup. 10,000 records in one partition,
 * a handler that sleeps 0–5 ms (uniform, fixed per offset), `keyed({ concurrency: 100 })`,
 * and as many distinct keys as the run says. Ideal time = records × 2.5 ms ÷ min(keys,
 * concurrency): what perfect scheduling of that much sleeping would take.
 *
 * Runs on the simulated cluster (`memory`) or the real broker (`kafkajs`); every key count
 * of a round runs before the next round starts, on a fresh cluster or a fresh group.
 */

import * as path from "node:path"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type { ConsumerRecord } from "@sluice/core/ConsumerRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { args, brokers, die, emit, keyOf, latencyOf, now } from "../lib/common.js"
import { ensureTopic, keyedTopic } from "../lib/kafka.js"
import { startProfiler } from "../lib/profiler.js"
import { Progress, runUntilDone } from "../lib/sluice.js"

export interface KeyedArgs {
  readonly cluster: "memory" | "kafkajs"
  readonly records: number
  readonly keys: ReadonlyArray<number>
  readonly concurrency: number
  readonly rounds: number
  /** Key counts run once first and not reported (warms the JIT, the broker's cache). */
  readonly warmupKeys: ReadonlyArray<number>
  /** Profiles every measured run into `<profileDir>/keyed-<cluster>-<keys>.cpuprofile`. */
  readonly profileDir?: string | undefined
}

export interface KeyedRun {
  readonly round: number
  readonly keys: number
  readonly seconds: number
}

export interface KeyedResult {
  readonly runs: ReadonlyArray<KeyedRun>
  /**
   * The same sleeps run one after another, without Sluice, over their ideal sum: what the
   * timers alone add (Node's timers fire at the earliest after the delay, never before).
   */
  readonly timerRatio: number
  /**
   * Baselines without Sluice or Kafka, over the ideal of unlimited keys: the same handler
   * sleeps, `concurrency` at a time, with `Effect.forEach({ concurrency })` and with plain
   * promises and `setTimeout`. What any consumer built on Effect (or on Node's timers) can
   * reach at best.
   */
  readonly effectRatio: number
  readonly promiseRatio: number
  /**
   * Per key count (simulated cluster only), the seconds the same sleeps take with Effect alone
   * under the same key constraint: each key's sleeps one after another in offset order, the
   * keys `Effect.forEach({ concurrency })`. The bare-Effect baseline Sluice's keyed mode is
   * measured against (the issue's ≤ 1.1×).
   */
  readonly effectKeyed?: ReadonlyArray<{ readonly keys: number; readonly seconds: number }> | undefined
}

/** The handler: sleeps the record's latency; records without one finish at once. */
const handler = (progress: Progress) => (record: ConsumerRecord) => {
  progress.start()
  const ms = latencyOf(record.offset)
  const tick = Effect.sync(() => progress.tick())
  return ms === 0 ? tick : Effect.zipRight(Effect.sleep(ms), tick)
}

const runOne = (a: KeyedArgs, keys: number, round: number, topic: string) =>
  Effect.gen(function* () {
    const groupId = `sluice-bench-keyed-${keys}-${round}-${Date.now()}`
    const consumer = yield* Consumer.make(yield* ConsumerSettings.make({ groupId }))
    const progress = yield* Progress.make(a.records)
    const profiler = a.profileDir !== undefined && round > 0 ? yield* Effect.tryPromise(startProfiler) : undefined
    yield* runUntilDone(
      consumer,
      { topics: [topic], mode: ProcessingMode.keyed({ concurrency: a.concurrency }), handler: handler(progress) },
      progress,
      600_000
    )
    if (profiler !== undefined) {
      yield* Effect.tryPromise(() => profiler.stop(path.join(a.profileDir!, `keyed-${a.cluster}-${keys}.cpuprofile`)))
    }
    return { round, keys, seconds: progress.seconds } satisfies KeyedRun
  })

const onMemory = (a: KeyedArgs, keys: number, round: number) =>
  Effect.gen(function* () {
    const handle = yield* MemoryKafka.MemoryKafka
    const topic = "bench-keyed"
    yield* handle.createTopic(topic, 1)
    const value = new Uint8Array(100)
    const records: Array<ProducerRecord> = []
    for (let offset = 0; offset < a.records; offset++) {
      records.push({ topic, partition: 0, key: keyOf(offset, keys), value })
    }
    yield* handle.produce(records)
    return yield* runOne(a, keys, round, topic)
  }).pipe(Effect.provide(MemoryKafka.layer()))

const onBroker = (a: KeyedArgs, keys: number, round: number) =>
  runOne(a, keys, round, keyedTopic(a.records, keys, keyOf).topic).pipe(
    Effect.provide(
      KafkaJsDriver.layer({ brokers: [...brokers], clientId: "sluice-bench-keyed" }) as Layer.Layer<ConsumerDriver>
    )
  )

/** Sleeps the first `count` latencies one after another and compares with their sum. */
const timerRatio = (count: number) =>
  Effect.gen(function* () {
    let ideal = 0
    const started = now()
    for (let offset = 0; offset < count; offset++) {
      const ms = latencyOf(offset)
      ideal += ms
      if (ms > 0) yield* Effect.sleep(ms)
    }
    return (now() - started) / ideal
  })

/** The handler's sleeps, `concurrency` at a time, with Effect alone. */
const effectBaseline = (a: KeyedArgs) =>
  Effect.gen(function* () {
    const offsets = Array.from({ length: a.records }, (_, i) => i)
    const started = now()
    yield* Effect.forEach(
      offsets,
      (offset) => {
        const ms = latencyOf(offset)
        return ms === 0 ? Effect.void : Effect.sleep(ms)
      },
      { concurrency: a.concurrency, discard: true }
    )
    return (now() - started) / ((a.records * 2.5) / a.concurrency)
  })

/** The handler's sleeps under the key constraint, with Effect alone (see `KeyedResult.effectKeyed`). */
const effectKeyed = (a: KeyedArgs, keys: number) =>
  Effect.gen(function* () {
    const chains = Array.from({ length: Math.min(keys, a.records) }, () => [] as Array<number>)
    for (let offset = 0; offset < a.records; offset++) chains[offset % keys]!.push(latencyOf(offset))
    const started = now()
    yield* Effect.forEach(
      chains,
      (chain) => Effect.forEach(chain, (ms) => (ms === 0 ? Effect.void : Effect.sleep(ms)), { discard: true }),
      { concurrency: a.concurrency, discard: true }
    )
    return (now() - started) / 1000
  })

/** The handler's sleeps, `concurrency` at a time, with promises and `setTimeout`. */
const promiseBaseline = (a: KeyedArgs) =>
  Effect.tryPromise(async () => {
    let next = 0
    const started = now()
    const worker = async () => {
      while (next < a.records) {
        const ms = latencyOf(next++)
        if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
      }
    }
    await Promise.all(Array.from({ length: a.concurrency }, worker))
    return (now() - started) / ((a.records * 2.5) / a.concurrency)
  })

const program = (a: KeyedArgs) =>
  Effect.gen(function* () {
    if (a.cluster === "kafkajs") {
      for (const keys of new Set([...a.warmupKeys, ...a.keys])) {
        yield* Effect.tryPromise(() =>
          ensureTopic(keyedTopic(a.records, keys, keyOf), (line) => process.stderr.write(`${line}\n`))
        )
      }
    }
    const runs: Array<KeyedRun> = []
    const once = a.cluster === "memory" ? onMemory : onBroker
    for (const keys of a.warmupKeys) yield* once(a, keys, 0)
    for (let round = 1; round <= a.rounds; round++) {
      for (const keys of a.keys) {
        const run = yield* once(a, keys, round)
        runs.push(run)
        const ideal = (a.records * 2.5) / Math.min(keys, a.concurrency) / 1000
        process.stderr.write(
          `keyed ${a.cluster} round ${round} keys ${keys}: ${run.seconds.toFixed(2)} s (${(run.seconds / ideal).toFixed(2)}× ideal)\n`
        )
      }
    }
    // Warm, then measured: the median of three.
    yield* effectBaseline(a)
    const effectRatios = [yield* effectBaseline(a), yield* effectBaseline(a), yield* effectBaseline(a)]
    const promiseRatios = [yield* promiseBaseline(a), yield* promiseBaseline(a), yield* promiseBaseline(a)]
    const mid = (values: Array<number>) => values.sort((x, y) => x - y)[1]!
    // Runs of a second or more vary little: one each; shorter ones, the median of three.
    const keyedBaselines: Array<{ keys: number; seconds: number }> = []
    if (a.cluster === "memory") {
      for (const keys of a.keys) {
        const first = yield* effectKeyed(a, keys)
        const seconds =
          first >= 1
            ? first
            : mid([yield* effectKeyed(a, keys), yield* effectKeyed(a, keys), yield* effectKeyed(a, keys)])
        keyedBaselines.push({ keys, seconds })
      }
    }
    return {
      effectKeyed: a.cluster === "memory" ? keyedBaselines : undefined,
      runs,
      timerRatio: yield* timerRatio(1_000),
      effectRatio: mid(effectRatios),
      promiseRatio: mid(promiseRatios)
    } satisfies KeyedResult
  })

Effect.runPromise(program(args<KeyedArgs>())).then(emit, die)
