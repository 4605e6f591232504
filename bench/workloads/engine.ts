/**
 * Workload 2: the engine alone. The no-op pipeline of workload 1 on the simulated cluster
 * (no network, no client), in each mode, plus the simulated cluster's own delivery with a
 * listener that only counts (`driver`): what is left is the engine's time per record.
 *
 * The modes given run alternately in one process, after warm-up rounds that are not reported,
 * each on a fresh cluster with its records produced before the clock starts. `pnpm bench`
 * gives each process one mode and one round (`run.ts`): modes sharing a process slowed each
 * other.
 */

import * as path from "node:path"
import * as Consumer from "@sluice/core/Consumer"
import { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { args, die, emit, gc } from "../lib/common.js"
import { type Profiler, startProfiler } from "../lib/profiler.js"
import { type ModeName, mode, Progress, produceRoundRobin, runUntilDone } from "../lib/sluice.js"
import { effectLoop } from "../lib/speedProbe.js"

/**
 * `driver`: the simulated cluster alone. `effect_loop` and `effect_forEach`: bare Effect over the
 * same number of no-op handlers, no Kafka and no engine: one fiber running them one after the
 * other (what partition mode does at least per record), and `Effect.forEach` with the
 * concurrency of the keyed and unordered modes (how an Effect user runs records side by side).
 */
export type EngineMode = ModeName | "driver" | "effect_loop" | "effect_forEach"

export interface EngineArgs {
  readonly records: number
  readonly partitions: number
  /** Distinct keys, spread over the partitions: what `keyed` orders by. */
  readonly keys: number
  readonly concurrency: number
  readonly modes: ReadonlyArray<EngineMode>
  readonly rounds: number
  readonly warmupRounds: number
  /** Profiles the consumption of every measured run into `<profileDir>/engine-<mode>.cpuprofile`. */
  readonly profileDir?: string | undefined
}

export interface EngineRun {
  readonly round: number
  readonly mode: EngineMode
  readonly seconds: number
  readonly cpuSeconds: number
}

export interface EngineResult {
  readonly runs: ReadonlyArray<EngineRun>
}

const topic = "bench-engine"
const value = new Uint8Array(100)

const produce = (handle: MemoryKafka.Handle, a: EngineArgs) => {
  const keys = Array.from({ length: a.keys }, (_, k) => new TextEncoder().encode(`key-${k}`))
  return produceRoundRobin(handle, {
    topic,
    partitions: a.partitions,
    records: a.records,
    chunk: 12_000,
    key: (i) => keys[i % a.keys]!,
    value
  })
}

/** A bare-Effect run of `a.records` no-op handlers, timed like the others. */
const runFloor = (a: EngineArgs, which: "effect_loop" | "effect_forEach", round: number) =>
  Effect.gen(function* () {
    const progress = yield* Progress.make(a.records)
    const handler = () =>
      Effect.sync(() => {
        progress.start()
        progress.tick()
      })
    const records = Array.from({ length: a.records }, (_, i) => i)
    yield* which === "effect_loop"
      ? effectLoop(a.records, handler)
      : Effect.forEach(records, handler, { concurrency: a.concurrency, discard: true })
    yield* Deferred.await(progress.done)
    return { round, mode: which, seconds: progress.seconds, cpuSeconds: progress.cpuSeconds } satisfies EngineRun
  })

const runOnce = (a: EngineArgs, which: ModeName | "driver", round: number) =>
  Effect.gen(function* () {
    const handle = yield* MemoryKafka.MemoryKafka
    yield* produce(handle, a)
    // The records just produced are a young heap's worth of garbage and promotions: collected
    // here, their cost falls before the clock starts instead of inside the engine's run.
    gc()
    const progress = yield* Progress.make(a.records)
    const groupId = `engine-${which}-${round}`
    const profiler: Profiler | undefined =
      a.profileDir !== undefined && round > 0 ? yield* Effect.tryPromise(startProfiler) : undefined
    if (which === "driver") {
      // The simulated cluster delivering to a listener that only counts.
      const driver = yield* ConsumerDriver
      const settings = yield* ConsumerSettings.make({ groupId })
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* driver.subscribe(
            {
              groupId,
              topics: [topic],
              startFrom: "earliest",
              sessionTimeout: settings.sessionTimeout,
              rebalanceTimeout: settings.rebalanceTimeout,
              heartbeatInterval: settings.heartbeatInterval,
              maxBytesPerPartition: settings.maxBytesPerPartition,
              clientId: settings.clientId
            },
            {
              onAssigned: () => Effect.void,
              onRevoked: () => Effect.void,
              onLost: () => Effect.void,
              onRecords: (_, records) => Effect.sync(() => progress.add(records.length))
            }
          )
          yield* Deferred.await(progress.done)
        })
      )
    } else {
      const consumer = yield* Consumer.make(yield* ConsumerSettings.make({ groupId }))
      yield* runUntilDone(
        consumer,
        {
          topics: [topic],
          mode: mode(which, a.concurrency),
          handler: () =>
            Effect.sync(() => {
              progress.start()
              progress.tick()
            })
        },
        progress,
        600_000
      )
    }
    if (profiler !== undefined) {
      const file = path.join(a.profileDir!, `engine-${which}.cpuprofile`)
      yield* Effect.tryPromise(() => profiler.stop(file))
    }
    return { round, mode: which, seconds: progress.seconds, cpuSeconds: progress.cpuSeconds } satisfies EngineRun
  }).pipe(Effect.provide(MemoryKafka.layer({ partitions: a.partitions })))

const program = (a: EngineArgs) =>
  Effect.gen(function* () {
    const runs: Array<EngineRun> = []
    for (let round = -a.warmupRounds + 1; round <= a.rounds; round++) {
      // Alternate the order too, so that no mode always runs right after the same one.
      const order = round % 2 === 0 ? [...a.modes].reverse() : a.modes
      for (const which of order) {
        gc()
        const run = yield* which === "effect_loop" || which === "effect_forEach"
          ? runFloor(a, which, round)
          : runOnce(a, which, round)
        if (round > 0) runs.push(run)
        process.stderr.write(
          `engine ${round > 0 ? `round ${round}` : "warm-up"} ${which}: ${Math.round(a.records / run.seconds)} records/s\n`
        )
      }
    }
    return { runs } satisfies EngineResult
  })

Effect.runPromise(program(args<EngineArgs>())).then(emit, die)
