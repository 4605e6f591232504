/**
 * What a tracer costs an Effect program whatever it does, without Sluice (issue 15): Effect 3's
 * runtime calls the installed tracer's `context` hook around every instruction a fiber runs,
 * and `@effect/opentelemetry`'s hook makes an OpenTelemetry context and enters it each time
 * the fiber has a current span. This measures
 *
 * - CPU per instruction of a bare loop (one fiber, under a parent span, `instructions`
 *   instructions), with no tracer, a no-op tracer, and `@effect/opentelemetry` with
 *   `AlwaysOffSampler` (non-recording), the variants alternating round by round;
 * - how many instructions the engine runs per record in `partition` mode with a no-op handler
 *   (workload 2's pipeline), counted by a tracer whose hook counts its calls.
 *
 * The product of the two is what the hook alone costs a traced record, before any span.
 */
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { args, die, emit, gc } from "../lib/common.js"
import { mode, Progress, produceRoundRobin, runUntilDone } from "../lib/sluice.js"
import { noopTracerWith, type ObservabilityVariant, tracerOf } from "../lib/tracers.js"

export type HookVariant = Extract<ObservabilityVariant, "off" | "noopTracer" | "nonRecording">

export interface TracerHookArgs {
  readonly instructions: number
  readonly rounds: number
  /** Records of the engine run whose instructions are counted. */
  readonly records: number
}

export interface TracerHookResult {
  readonly runs: ReadonlyArray<{ readonly round: number; readonly variant: HookVariant; readonly nanos: number }>
  /** Instructions the engine's partition worker runs per record (counted over `records`). */
  readonly instructionsPerRecord: number
}

export const hookVariants: ReadonlyArray<HookVariant> = ["off", "noopTracer", "nonRecording"]

/** `n` instructions: a `flatMap` and the `sync` it continues with, `n / 2` times. */
const loop = (i: number): Effect.Effect<void> =>
  i <= 0
    ? Effect.void
    : Effect.flatMap(
        Effect.sync(() => i - 2),
        loop
      )

const cpuNanosPerInstruction = (a: TracerHookArgs, variant: HookVariant) => {
  const { layer } = tracerOf(variant)
  const timed = Effect.sync(() => process.cpuUsage()).pipe(
    Effect.flatMap((before) =>
      Effect.as(loop(a.instructions), before).pipe(
        Effect.map((start) => {
          const used = process.cpuUsage(start)
          return ((used.user + used.system) * 1000) / a.instructions
        })
      )
    )
  )
  // Under a parent span, as a handler runs under its record's: with no current span
  // `@effect/opentelemetry`'s hook does nothing.
  return Effect.provide(Effect.withSpan(timed, "parent"), layer as Layer.Layer<never>)
}

const counted = { instructions: 0 }

/** A tracer that records nothing and counts the instructions it is asked to run. */
const countingTracer = noopTracerWith((f) => {
  counted.instructions++
  return f()
})

/** Instructions per record of workload 2's pipeline, counted while the records run. */
const instructionsPerRecord = (records: number) =>
  Effect.gen(function* () {
    const handle = yield* MemoryKafka.MemoryKafka
    const topic = "bench-tracer-hook"
    yield* produceRoundRobin(handle, {
      topic,
      partitions: 12,
      records,
      chunk: 12_000,
      key: () => null,
      value: new Uint8Array(100)
    })
    const progress = yield* Progress.make(records)
    const consumer = yield* Consumer.make(yield* ConsumerSettings.make({ groupId: "tracer-hook", metrics: false }))
    let atFirst = 0
    yield* runUntilDone(
      consumer,
      {
        topics: [topic],
        mode: mode("partition", 1),
        handler: () =>
          Effect.sync(() => {
            if (progress.count === 0) atFirst = counted.instructions
            progress.start()
            progress.tick()
          })
      },
      progress,
      600_000
    )
    return (counted.instructions - atFirst) / records
  }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer({ partitions: 12 }), Layer.setTracer(countingTracer))))

const program = (a: TracerHookArgs) =>
  Effect.gen(function* () {
    const runs: Array<{ round: number; variant: HookVariant; nanos: number }> = []
    for (let round = 0; round <= a.rounds; round++) {
      const order = round % 2 === 0 ? [...hookVariants].reverse() : hookVariants
      for (const variant of order) {
        gc()
        const nanos = yield* cpuNanosPerInstruction(a, variant)
        // Round 0 warms up.
        if (round > 0) runs.push({ round, variant, nanos })
        process.stderr.write(`tracer hook round ${round} ${variant}: ${nanos.toFixed(1)} ns per instruction\n`)
      }
    }
    const perRecord = yield* instructionsPerRecord(a.records)
    return { runs, instructionsPerRecord: perRecord } satisfies TracerHookResult
  })

Effect.runPromise(program(args<TracerHookArgs>())).then(emit, die)
