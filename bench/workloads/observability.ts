/**
 * The cost of observability (issue 15): the engine workload's no-op pipeline (workload 2,
 * partition mode, simulated cluster) run alternately with
 *
 * - `off`: metrics off (`metrics: false`) and no tracer (Effect's built-in one, which exports
 *   nothing: records get no span);
 * - `metrics`: metrics on, no tracer;
 * - `noopTracer`: metrics off and an Effect `Tracer` whose spans record nothing: what Sluice's
 *   per-record spans cost by themselves;
 * - `nonRecording`: metrics off and an OpenTelemetry tracer (`@effect/opentelemetry`) whose
 *   sampler records nothing (`AlwaysOffSampler`): each record gets a span that is dropped;
 * - `unsampledParents`: the `nonRecording` tracer, and every record carries the `traceparent`
 *   of a producer whose trace is not sampled (so no record gets a span; what is left is the
 *   header's parse and the context the tracer makes current);
 * - `recording`: metrics off and an OpenTelemetry tracer that records every span and hands it
 *   to an exporter that drops it (what a real exporter does besides the network).
 *
 * Ratios of CPU time against `off`, from runs in one process after warm-up rounds.
 */
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { args, die, emit, gc } from "../lib/common.js"
import { mode, Progress, produceRoundRobin, runUntilDone } from "../lib/sluice.js"
import { type ObservabilityVariant, tracerOf } from "../lib/tracers.js"

export type { ObservabilityVariant } from "../lib/tracers.js"

export interface ObservabilityArgs {
  readonly records: number
  readonly partitions: number
  readonly variants: ReadonlyArray<ObservabilityVariant>
  readonly rounds: number
  readonly warmupRounds: number
}

export interface ObservabilityRun {
  readonly round: number
  readonly variant: ObservabilityVariant
  readonly seconds: number
  readonly cpuSeconds: number
  /** Spans the exporter received (the recording tracer's). */
  readonly exported: number
}

export interface ObservabilityResult {
  readonly runs: ReadonlyArray<ObservabilityRun>
}

const topic = "bench-observability"
const value = new Uint8Array(100)
const key = new TextEncoder().encode("k")

/** An unsampled producer's `traceparent` per record (trace and span ids from the record's index). */
const unsampledParent = (i: number) => [
  {
    key: "traceparent",
    value: new TextEncoder().encode(
      `00-${(i + 1).toString(16).padStart(32, "0")}-${(i + 1).toString(16).padStart(16, "0")}-00`
    )
  }
]

const runOnce = (a: ObservabilityArgs, variant: ObservabilityVariant, round: number) => {
  const { exporter, layer: tracing } = tracerOf(variant)
  return Effect.gen(function* () {
    const handle = yield* MemoryKafka.MemoryKafka
    yield* produceRoundRobin(handle, {
      topic,
      partitions: a.partitions,
      records: a.records,
      chunk: 12_000,
      key: () => key,
      value,
      headers: variant === "unsampledParents" ? unsampledParent : undefined
    })
    const progress = yield* Progress.make(a.records)
    const settings = yield* ConsumerSettings.make({
      groupId: `observability-${variant}-${round}`,
      metrics: variant === "metrics"
    })
    const consumer = yield* Consumer.make(settings)
    yield* runUntilDone(
      consumer,
      {
        topics: [topic],
        mode: mode("partition", 1),
        handler: () =>
          Effect.sync(() => {
            progress.start()
            progress.tick()
          })
      },
      progress,
      600_000
    )
    return {
      round,
      variant,
      seconds: progress.seconds,
      cpuSeconds: progress.cpuSeconds,
      exported: exporter.count
    } satisfies ObservabilityRun
  }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer({ partitions: a.partitions }), tracing)))
}

const program = (a: ObservabilityArgs) =>
  Effect.gen(function* () {
    const runs: Array<ObservabilityRun> = []
    for (let round = -a.warmupRounds + 1; round <= a.rounds; round++) {
      const order = round % 2 === 0 ? [...a.variants].reverse() : a.variants
      for (const variant of order) {
        gc()
        // Each run in a fiber of its own, awaited rather than joined: `Effect.provide` of a
        // merged layer with `Layer.setTracer` (or the OpenTelemetry tracer's layer) leaves the
        // tracer set in the providing fiber afterwards (effect 3.22), so runs in one fiber
        // would all be traced after the first traced one, `off` included.
        const run = yield* Effect.flatten(Fiber.await(yield* Effect.forkDaemon(runOnce(a, variant, round))))
        if (round > 0) runs.push(run)
        process.stderr.write(
          `observability ${round > 0 ? `round ${round}` : "warm-up"} ${variant}: ${Math.round(a.records / run.seconds)} records/s\n`
        )
      }
    }
    return { runs } satisfies ObservabilityResult
  })

Effect.runPromise(program(args<ObservabilityArgs>())).then(emit, die)
