/**
 * One consumer process of the rolling-deploy workload (`deploy.ts`): Sluice in `partition`
 * mode over the contestant's driver, a handler that sleeps `handlerMs` and then appends
 * `partition offset handledAtMs` to `out`. Run by `NodeRuntime.runMain`: SIGTERM is a graceful
 * shutdown (drain, commit, leave, or for a static member just close). Prints
 * `deploy-event <tag>` for each consumer event.
 */
import { appendFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import * as ConfluentDriver from "@sluice/confluent/ConfluentDriver"
import * as Consumer from "@sluice/core/Consumer"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { args, brokers } from "../lib/common.js"

export interface DeployMemberArgs {
  readonly contestant:
    | "kafkajs"
    | "confluent_eager"
    | "confluent_cooperative"
    | "confluent_kip848"
    | "confluent_kip848_static"
  readonly topic: string
  readonly groupId: string
  readonly out: string
  readonly handlerMs: number
  /** The member's slot (0, 1, 2): its static identity when the contestant is static. */
  readonly slot: number
}

const a = args<DeployMemberArgs>()

const driver = (() => {
  const config = { brokers: [...brokers], clientId: `sluice-bench-deploy-${a.slot}`, logLevel: "error" as const }
  switch (a.contestant) {
    case "kafkajs":
      return KafkaJsDriver.layer(config)
    case "confluent_eager":
      return ConfluentDriver.layer(config, { assignor: "range" })
    case "confluent_cooperative":
      return ConfluentDriver.layer(config, { assignor: "cooperative-sticky" })
    default:
      return ConfluentDriver.layer(config, { groupProtocol: "consumer" })
  }
})()

const program = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  yield* Effect.forkDaemon(
    Stream.runForEach(consumer.events, (event) => Effect.sync(() => console.log(`deploy-event ${event._tag}`)))
  )
  yield* Effect.yieldNow()
  return yield* consumer.run({
    topics: [a.topic],
    mode: ProcessingMode.partition,
    handler: (record) =>
      Effect.sleep(a.handlerMs).pipe(
        Effect.zipRight(
          Effect.sync(() => appendFileSync(a.out, `${record.partition} ${record.offset} ${Date.now()}\n`))
        )
      )
  })
})

program.pipe(
  Effect.provide(
    Consumer.layer({
      groupId: a.groupId,
      commitInterval: "500 millis",
      sessionTimeout: "20 seconds",
      heartbeatInterval: "500 millis",
      shutdownTimeout: "15 seconds",
      ...(a.contestant === "confluent_kip848_static" ? { groupInstanceId: `deploy-${a.groupId}-${a.slot}` } : {})
    })
  ),
  Effect.provide(driver),
  Effect.tapErrorCause(Effect.logError),
  NodeRuntime.runMain
)
