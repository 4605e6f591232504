/**
 * Workload 1, contestant (f): Sluice over `@sluice/confluent` (librdkafka, classic
 * cooperative-sticky), as contestant (b) runs over kafkajs.
 */
import * as ConfluentDriver from "@sluice/confluent/ConfluentDriver"
import * as Effect from "effect/Effect"
import { args, brokers, die, emit } from "../lib/common.js"
import { sluiceContestant } from "../lib/sluiceContestant.js"
import type { ContestantArgs } from "./contestant.js"

Effect.runPromise(
  sluiceContestant(args<ContestantArgs>()).pipe(
    Effect.provide(
      ConfluentDriver.layer({ brokers: [...brokers], clientId: "sluice-bench-sluice-confluent", logLevel: "error" })
    )
  )
).then(emit, die)
