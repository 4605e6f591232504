/**
 * What every example shares: where it runs (the simulated cluster, or a broker when
 * `KAFKA_BROKERS` is set) and how it starts as a program. Not part of any example's lesson.
 */

import { pathToFileURL } from "node:url"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Admin } from "@sluice/core/Admin"
import type * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as KafkaJs from "@sluice/kafkajs/KafkaJs"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"

const brokers = (process.env.KAFKA_BROKERS ?? "").split(",").filter((b) => b !== "")

/** True when the examples run against the brokers in `KAFKA_BROKERS`. */
export const onBroker = brokers.length > 0

// A broker keeps topics and groups between runs: each run gets its own, so it starts empty.
const suffix = onBroker ? `-${Date.now().toString(36)}` : ""

/** A topic or group name of this run. */
export const named = (name: string): string => `${name}${suffix}`

/**
 * Everything an example needs from Kafka in one layer (`Consumer`, `Producer`, `Admin`): kafkajs
 * on `KAFKA_BROKERS`, or else a fresh simulated cluster — the layer its test provides too.
 */
export const kafka = (settings: ConsumerSettings.Input) =>
  onBroker
    ? KafkaJs.layer({ brokers, clientId: "sluice-examples", logLevel: "error", ...settings })
    : MemoryKafka.layerClient(settings, { seed: 1 })

/** Creates the topics an example uses (a real application would have them already). */
export const createTopics = (topics: ReadonlyArray<{ readonly name: string; readonly partitions: number }>) =>
  Effect.flatMap(Admin, (admin) => admin.createTopics(topics, { ifNotExists: true }))

/**
 * A countdown to `count` handled records: the examples handle what they produced, then stop
 * (interrupting a consumer is its graceful shutdown: drain, commit, leave).
 */
export const countdown = (count: number) =>
  Effect.gen(function* () {
    const left = yield* Ref.make(count)
    const done = yield* Deferred.make<void>()
    const tick = (n = 1) =>
      Ref.updateAndGet(left, (l) => l - n).pipe(
        Effect.flatMap((l) => (l <= 0 ? Deferred.succeed(done, undefined) : Effect.void)),
        Effect.asVoid
      )
    return { tick, done: Deferred.await(done) }
  })

/** Runs `program` when the module is the one node started (not when a test imports it). */
export const runMain = <A, E>(url: string, program: Effect.Effect<A, E>): void => {
  if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === url) NodeRuntime.runMain(program)
}
