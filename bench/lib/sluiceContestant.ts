/**
 * Workload 1's Sluice contestants, whatever the driver: `partition` mode with a no-op handler,
 * default settings but a one-second commit interval (offsets are committed only after their
 * records were handled, and on shutdown); the run ends with a graceful shutdown.
 */
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type { ContestantArgs, ContestantResult } from "../contestants/contestant.js"
import { Tally } from "../contestants/contestant.js"
import { startProfiler } from "./profiler.js"
import type { ObservabilityVariant } from "./tracers.js"

/**
 * The tracer layer of an observability variant. Passed in by `contestants/sluice-observability.ts`
 * rather than imported here: OpenTelemetry's SDK and its semantic conventions are 385 kB of the
 * bundle, and loading them added about 2 MB of live heap (code and strings) and 5-8 MB of peak
 * RSS to a contestant that never traces.
 */
export type TracerOf = (variant: ObservabilityVariant) => { readonly layer: Layer.Layer<never> }

export const sluiceContestant = (
  { groupId, observability, profile, records, topic }: ContestantArgs,
  tracerOf?: TracerOf
): Effect.Effect<ContestantResult, unknown, ConsumerDriver> => {
  if (observability !== undefined && tracerOf === undefined) {
    return Effect.die(new Error("observability variants run through contestants/sluice-observability.ts"))
  }
  const tracer = observability === undefined ? undefined : tracerOf?.(observability)
  return Effect.gen(function* () {
    const done = yield* Deferred.make<void>()
    const tally = new Tally(records, () => Deferred.unsafeDone(done, Effect.void))
    const metrics = observability === undefined || observability === "metrics"
    const consumer = yield* Consumer.make(
      yield* ConsumerSettings.make({ groupId, commitInterval: "1 second", metrics })
    )
    const profiler = profile === undefined ? undefined : yield* Effect.tryPromise(startProfiler)
    const run = yield* Effect.fork(
      consumer.run({
        topics: [topic],
        mode: ProcessingMode.partition,
        handler: () => Effect.sync(() => tally.handled())
      })
    )
    yield* Effect.raceFirst(Deferred.await(done), Fiber.join(run))
    if (profiler !== undefined) yield* Effect.tryPromise(() => profiler.stop(profile!))
    // Graceful shutdown: drains, commits the final frontiers, leaves the group.
    yield* Fiber.interrupt(run)
    return yield* Effect.tryPromise(() => tally.report(groupId, topic))
  }).pipe(Effect.provide(tracer?.layer ?? Layer.empty))
}
