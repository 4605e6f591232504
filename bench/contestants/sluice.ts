/**
 * Workload 1, contestant (b): Sluice over kafkajs in `partition` mode with a no-op handler,
 * default settings but a one-second commit interval: offsets are committed only after
 * their records were handled (and on shutdown).
 */
import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
import * as Effect from "effect/Effect"
import { args, brokers, die, emit } from "../lib/common.js"
import { sluiceContestant } from "../lib/sluiceContestant.js"
import type { ContestantArgs } from "./contestant.js"

Effect.runPromise(
  sluiceContestant(args<ContestantArgs>()).pipe(
    Effect.provide(KafkaJsDriver.layer({ brokers: [...brokers], clientId: "sluice-bench-sluice" }))
  )
).then(emit, die)
