/**
 * `ConsumerDriver.subscribe` on kafkajs: builds one group member (a kafkajs client, consumer
 * and admin), wires the gate, the event handlers and delivery into the consumer, and returns
 * the session. Here only the order of connecting and closing is decided; each part lives in
 * a module of its own (`member.ts` says which).
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
import type { GroupListener, GroupSession, Subscription } from "@sluice/core/ConsumerDriver"
import * as KafkaError from "@sluice/core/KafkaError"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Admin } from "kafkajs"
import type * as KafkaJsConfig from "../KafkaJsConfig.js"
import { toKafkaError } from "../KafkaJsError.js"
import { makeKafka, retryOptions } from "./client.js"
import { eachBatch } from "./delivery.js"
import { attach, restartOnFailure } from "./events.js"
import * as IdleFetch from "./idleFetch.js"
import { type ConsumerOptions, Member } from "./member.js"
import { assigner } from "./revocation.js"
import * as Session from "./session.js"

const disconnectAdmin = (admin: Admin): Effect.Effect<void> =>
  Effect.tryPromise({
    try: () => admin.disconnect(),
    catch: (error) => toKafkaError(error, "KafkaJsDriver.disconnect")
  }).pipe(Effect.catchAll((error) => Effect.logWarning("Sluice: kafkajs admin disconnect failed", error)))

/** `ConsumerDriver.subscribe` on kafkajs. */
export const subscribe =
  (config: KafkaJsConfig.Resolved, options: ConsumerOptions) =>
  (
    subscription: Subscription,
    listener: GroupListener
  ): Effect.Effect<GroupSession, KafkaError.KafkaError, Scope.Scope> =>
    Effect.gen(function* () {
      if (subscription.groupInstanceId !== undefined) {
        // Joining as a dynamic member instead would rebalance at every restart the user
        // configured static membership to avoid.
        return yield* Effect.fail(
          KafkaError.make({
            reason: "protocol",
            operation: "KafkaJsDriver.subscribe",
            message: `kafkajs cannot be a static member (groupInstanceId ${JSON.stringify(subscription.groupInstanceId)}): use @sluice/confluent, or leave groupInstanceId out`
          })
        )
      }
      IdleFetch.install()
      const runtime = yield* Effect.runtime<never>()
      const failure = yield* Deferred.make<never, KafkaError.KafkaError>()
      const kafka = makeKafka(config, subscription.clientId, runtime)
      const admin = kafka.admin()
      const member = new Member(runtime, subscription, listener, options, failure, admin)
      const consumer = yield* Effect.try({
        // kafkajs validates its options here and throws (e.g. heartbeat >= session timeout).
        try: () =>
          kafka.consumer({
            groupId: subscription.groupId,
            partitionAssigners: [assigner(member)],
            sessionTimeout: Duration.toMillis(subscription.sessionTimeout),
            rebalanceTimeout: Duration.toMillis(subscription.rebalanceTimeout),
            heartbeatInterval: Duration.toMillis(subscription.heartbeatInterval),
            maxBytesPerPartition: subscription.maxBytesPerPartition,
            maxWaitTimeInMs: Duration.toMillis(options.maxWaitTime),
            maxBytes: options.maxBytes,
            allowAutoTopicCreation: options.allowAutoTopicCreation,
            readUncommitted: options.readUncommitted,
            retry: { ...retryOptions(config), restartOnFailure: restartOnFailure(member) }
          }),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.subscribe")
      })
      attach(member, consumer)

      // Finalizers run last-added first: the consumer leaves before the admin closes.
      yield* Effect.addFinalizer(() => disconnectAdmin(admin))
      yield* Effect.tryPromise({
        try: () => admin.connect(),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.subscribe")
      })
      yield* Effect.addFinalizer(() => Session.close(member))
      yield* Effect.tryPromise({
        try: () => consumer.connect(),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.subscribe")
      })
      yield* Effect.tryPromise({
        try: () =>
          consumer.subscribe({
            topics: [...subscription.topics],
            fromBeginning: subscription.startFrom === "earliest"
          }),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.subscribe")
      })
      // `run` returns after the first join (`runner.js:77-91`); a failure there does not
      // reject it but crashes the consumer (CRASH), which `crashed` recorded.
      yield* Effect.tryPromise({
        try: () =>
          consumer.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
            eachBatch: eachBatch(member)
          }),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.subscribe")
      })
      const crashed = member.crashed
      if (crashed !== undefined && !crashed.restart) {
        return yield* Effect.fail(toKafkaError(crashed.error, "KafkaJsDriver.subscribe"))
      }

      const session: GroupSession = {
        commit: Session.commit(member),
        pause: Session.pause(member),
        resume: Session.resume(member),
        memberId: Effect.sync(() => member.memberId),
        failed: Deferred.await(failure),
        activity: Effect.sync(() => ({ lastPoll: member.lastPoll, lastHeartbeat: member.lastHeartbeat }))
      }
      return session
    }).pipe(
      Effect.withSpan("KafkaJsDriver.subscribe", {
        attributes: { groupId: subscription.groupId, topics: subscription.topics.join(",") }
      })
    )
