/**
 * `ConsumerDriver.subscribe` on the client's native consumer: builds one group member (one
 * `KafkaConsumer`), connects it, checks the topics, subscribes, and starts the rebalance
 * handler and the poll loop. Here only the order of starting and closing is decided; each
 * part lives in a module of its own (`member.ts` says which).
 */
import type { GroupListener, GroupSession, Subscription } from "@sluice/core/ConsumerDriver"
import * as KafkaError from "@sluice/core/KafkaError"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type * as ConfluentConfig from "../ConfluentConfig.js"
import { isFatal, toKafkaError } from "../ConfluentError.js"
import { Commits } from "./commits.js"
import { pollLoop } from "./delivery.js"
import { attachLogs } from "./log.js"
import { Member } from "./member.js"
import * as Members from "./members.js"
import { makeConsumer, type NativeConsumer, type NativeMetadata } from "./native.js"
import * as Properties from "./properties.js"
import * as Rebalance from "./rebalance.js"
import * as Session from "./session.js"

const connect = (
  consumer: NativeConsumer,
  timeout: Duration.Duration
): Effect.Effect<NativeMetadata, KafkaError.KafkaError> =>
  Effect.async((resume) => {
    try {
      consumer.connect({ timeout: Duration.toMillis(timeout) }, (error, metadata) =>
        resume(error ? Effect.fail(toKafkaError(error, "ConfluentDriver.subscribe")) : Effect.succeed(metadata))
      )
    } catch (error) {
      resume(Effect.fail(toKafkaError(error, "ConfluentDriver.subscribe")))
    }
  })

/**
 * Without topic auto-creation, a topic the cluster does not know fails `subscribe` (as with
 * the kafkajs driver) instead of leaving the member waiting on nothing.
 */
const checkTopics = (
  metadata: NativeMetadata,
  subscription: Subscription,
  options: Properties.ConsumerOptions
): Effect.Effect<void, KafkaError.KafkaError> => {
  if (options.allowAutoTopicCreation) return Effect.void
  const known = new Set(metadata.topics.filter((t) => t.partitions.length > 0).map((t) => t.name))
  const missing = subscription.topics.filter((topic) => !known.has(topic))
  return missing.length === 0
    ? Effect.void
    : Effect.fail(
        KafkaError.make({
          reason: "protocol",
          operation: "ConfluentDriver.subscribe",
          message: `unknown topic${missing.length > 1 ? "s" : ""} ${missing.join(", ")} [UNKNOWN_TOPIC_OR_PART]`
        })
      )
}

/** `ConsumerDriver.subscribe` on the native consumer. */
export const subscribe =
  (config: ConfluentConfig.Resolved, options: Properties.ConsumerOptions) =>
  (
    subscription: Subscription,
    listener: GroupListener
  ): Effect.Effect<GroupSession, KafkaError.KafkaError, Scope.Scope> =>
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      const scope = yield* Effect.scope
      const failure = yield* Deferred.make<never, KafkaError.KafkaError>()
      const rebalances = yield* Queue.unbounded<Rebalance.Rebalance>()
      const commits = new Commits()
      let member: Member | undefined
      const consumer = yield* Effect.try({
        // librdkafka checks its configuration here and throws what it refuses.
        try: () =>
          makeConsumer(
            {
              ...Properties.consumer(config, subscription, options),
              rebalance_cb: Rebalance.callback(() => member, rebalances),
              offset_commit_cb: commits.onResult
            },
            Properties.consumerTopic(subscription)
          ),
        catch: (error) => toKafkaError(error, "ConfluentDriver.subscribe")
      })
      member = new Member(
        consumer,
        config,
        subscription,
        options,
        listener,
        failure,
        yield* Effect.makeSemaphore(1),
        scope
      )
      const self = member
      yield* Members.register(self)
      attachLogs(consumer, runtime)
      consumer.on("event.error", (error) => {
        if (isFatal(error)) Runtime.runFork(runtime)(self.fail(toKafkaError(error, "ConfluentDriver.consume")))
      })
      consumer.setDefaultConsumeTimeout(Duration.toMillis(options.pollTimeout))
      consumer.setDefaultIsTimeoutOnlyForFirstMessage(true)

      // Finalizers run last-added first: the client closes (its last revocation acknowledged by
      // the rebalance handler) before the handler and the poll loop stop.
      yield* Effect.forkIn(Rebalance.handle(self, rebalances), scope)
      yield* Effect.addFinalizer(() => Session.close(self))
      const metadata = yield* connect(consumer, config.requestTimeout)
      yield* checkTopics(metadata, subscription, options)
      yield* Effect.try({
        try: () => consumer.subscribe(subscription.topics),
        catch: (error) => toKafkaError(error, "ConfluentDriver.subscribe")
      })
      yield* Effect.forkIn(pollLoop(self), scope)

      const serial = yield* Effect.makeSemaphore(1)
      const session: GroupSession = {
        commit: Session.commit(self, commits, serial),
        pause: Session.pause(self),
        resume: Session.resume(self),
        // The client does not expose librdkafka's `rd_kafka_memberid`.
        memberId: Effect.succeed(undefined),
        failed: Deferred.await(failure),
        // librdkafka heartbeats on a thread of its own and does not say when.
        activity: Effect.sync(() => ({ lastPoll: self.lastPoll, lastHeartbeat: undefined }))
      }
      return session
    }).pipe(
      Effect.withSpan("ConfluentDriver.subscribe", {
        attributes: {
          groupId: subscription.groupId,
          topics: subscription.topics.join(","),
          protocol: options.groupProtocol
        }
      })
    )
