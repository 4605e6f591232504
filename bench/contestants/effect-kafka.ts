/**
 * Workload 1, contestant (c): effect-kafka 0.9.0 on kafkajs, the Effect peer, as its README
 * shows it: a `MessageRouter` with a no-op route served by `Consumer.serveEffect`, default
 * options. Note that it does not commit after processing: its `eachBatch` hands the batch to
 * a queue and returns, and kafkajs's auto-commit then commits records not yet handled.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Consumer, MessageRouter } from "effect-kafka"
import { KafkaJS } from "effect-kafka/KafkaJS"
import { args, brokers, die, emit } from "../lib/common.js"
import { type ContestantArgs, Tally } from "./contestant.js"

const { groupId, records, topic } = args<ContestantArgs>()

const program = Effect.gen(function* () {
  const done = yield* Deferred.make<void>()
  const tally = new Tally(records, () => Deferred.unsafeDone(done, Effect.void))
  const router = MessageRouter.empty.pipe(
    MessageRouter.subscribe(
      topic,
      Effect.sync(() => tally.handled())
    )
  )
  const serve = yield* Effect.fork(Effect.scoped(Consumer.serveEffect(router, { groupId, fromBeginning: true })))
  yield* Effect.raceFirst(Deferred.await(done), Fiber.join(serve))
  yield* Fiber.interrupt(serve)
  return yield* Effect.tryPromise(() => tally.report(groupId, topic))
})

Effect.runPromise(
  program.pipe(Effect.provide(KafkaJS.layer({ brokers: [...brokers], clientId: "sluice-bench-effect-kafka" })))
).then(emit, die)
