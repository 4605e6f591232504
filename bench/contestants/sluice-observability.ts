/**
 * The observability benchmark's broker runs (issue 15): contestant (b), Sluice over kafkajs,
 * with one of the metrics and tracer variants of `lib/tracers.ts`. A script of its own so that
 * workload 1's contestant (b) does not load OpenTelemetry.
 */
import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
import * as Effect from "effect/Effect"
import { args, brokers, die, emit } from "../lib/common.js"
import { sluiceContestant } from "../lib/sluiceContestant.js"
import { tracerOf } from "../lib/tracers.js"
import type { ContestantArgs } from "./contestant.js"

Effect.runPromise(
  sluiceContestant(args<ContestantArgs>(), tracerOf).pipe(
    Effect.provide(KafkaJsDriver.layer({ brokers: [...brokers], clientId: "sluice-bench-sluice" }))
  )
).then(emit, die)
