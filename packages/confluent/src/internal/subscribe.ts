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
import { groupState, Watchdog } from "./watchdog.js"

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

/** What every client of one member shares: where its events go. */
interface Wiring {
  readonly config: ConfluentConfig.Resolved
  readonly subscription: Subscription
  readonly options: Properties.ConsumerOptions
  readonly rebalances: Queue.Queue<Rebalance.Rebalance>
  readonly commits: Commits
  readonly runtime: Runtime.Runtime<never>
  /** The member, once there is one (the first client is built before it). */
  readonly member: () => Member | undefined
}

/**
 * A librdkafka client for the member's client `generation`: built (librdkafka checks its
 * configuration here and throws what it refuses), its logs, errors and statistics wired, not
 * connected yet.
 */
const makeClient = (wiring: Wiring, generation: number): Effect.Effect<NativeConsumer, KafkaError.KafkaError> =>
  Effect.try({
    try: () => {
      const consumer = makeConsumer(
        {
          ...Properties.consumer(wiring.config, wiring.subscription, wiring.options),
          rebalance_cb: Rebalance.callback(wiring.rebalances, generation),
          offset_commit_cb: wiring.commits.onResult
        },
        Properties.consumerTopic(wiring.subscription)
      )
      attachLogs(consumer, wiring.runtime)
      consumer.on("event.error", (error) => {
        const member = wiring.member()
        if (member === undefined || member.consumer !== consumer || !isFatal(error)) return
        Runtime.runFork(wiring.runtime)(member.fail(toKafkaError(error, "ConfluentDriver.consume")))
      })
      consumer.on("event.stats", (event) => {
        const member = wiring.member()
        const state = groupState(event.message)
        if (member !== undefined && member.consumer === consumer && state !== undefined) {
          member.watchdog.observe(state, Date.now())
        }
      })
      consumer.setDefaultConsumeTimeout(Duration.toMillis(wiring.options.pollTimeout))
      consumer.setDefaultIsTimeoutOnlyForFirstMessage(true)
      return consumer
    },
    catch: (error) => toKafkaError(error, "ConfluentDriver.subscribe")
  })

/** Connects a client, checks the subscription's topics and subscribes to them. */
const join = (wiring: Wiring, consumer: NativeConsumer): Effect.Effect<void, KafkaError.KafkaError> =>
  Effect.gen(function* () {
    const metadata = yield* connect(consumer, wiring.config.requestTimeout)
    yield* checkTopics(metadata, wiring.subscription, wiring.options)
    yield* Effect.try({
      try: () => consumer.subscribe(wiring.subscription.topics),
      catch: (error) => toKafkaError(error, "ConfluentDriver.subscribe")
    })
  })

/**
 * Replaces the member's librdkafka client by a new one that joins the group afresh (the rejoin
 * watchdog, `watchdog.ts`), when the member owns nothing, has been out of its group longer than
 * the watchdog's timeout, and the cluster answers (the new client connects within the request
 * timeout). Under the member's lock: no delivery is under way, and none starts on the old client.
 *
 * The order: the new client connects; it becomes the member's client before it subscribes (a poll
 * of it returns nothing yet), so that the old client's rebalance events are no longer the
 * engine's; the old client closes, for at most the request timeout, so that a static member's
 * instance id is given up before the new client asks for it (KIP-848 refuses an instance id
 * still in use); then the new client subscribes.
 */
const replaceClient = (wiring: Wiring, member: Member): Effect.Effect<void> =>
  member.lock
    .withPermits(1)(
      Effect.gen(function* () {
        const now = Date.now()
        if (member.closing || !member.watchdog.due(now, member.owned.size)) return
        const why = `out of its group for ${Math.round(member.watchdog.outFor(now) / 1000)} s (${member.watchdog.describe()})`
        const timeout = member.config.requestTimeout
        const fresh = yield* makeClient(wiring, member.generation + 1)
        const connected = yield* Effect.either(connect(fresh, timeout))
        if (connected._tag === "Left" || member.closing) {
          yield* Effect.forkIn(
            Session.disconnect(fresh, "closing an unused librdkafka consumer", timeout),
            member.scope
          )
          if (connected._tag === "Right") return
          // The cluster does not answer: an outage a new client cannot shorten. Try again later.
          member.watchdog.restart(Date.now(), false)
          return yield* Effect.logWarning(
            `Sluice: the member has been ${why}, and the cluster does not answer`,
            connected.left
          )
        }
        const old = member.consumer
        member.generation += 1
        member.consumer = fresh
        member.watchdog.restart(Date.now(), true)
        yield* Session.disconnect(old, "closing a replaced librdkafka consumer", timeout)
        yield* Effect.try({
          try: () => fresh.subscribe(member.subscription.topics),
          catch: (error) => toKafkaError(error, "ConfluentDriver.subscribe")
        })
        yield* Effect.logWarning(`Sluice: the member has been ${why}; its librdkafka client was replaced by a new one`)
      })
    )
    .pipe(
      // Building or subscribing a client with properties librdkafka took before fails only when
      // something is badly wrong: the member fails, as it would at its start.
      Effect.catchAll((error) =>
        Effect.zipRight(
          Effect.logError("Sluice: replacing the member's librdkafka client failed", error),
          member.fail(error)
        )
      ),
      Effect.withSpan("ConfluentDriver.replaceClient")
    )

/** Checks the member every `period` and replaces its client when the watchdog says so. */
const watch = (wiring: Wiring, member: Member): Effect.Effect<void> =>
  Number.isFinite(member.watchdog.timeout)
    ? Effect.forever(
        Effect.zipRight(
          Effect.sleep(Duration.millis(Math.min(1000, member.watchdog.timeout / 4))),
          Effect.suspend(() =>
            member.watchdog.due(Date.now(), member.owned.size) ? replaceClient(wiring, member) : Effect.void
          )
        )
      )
    : Effect.void

/** `ConsumerDriver.subscribe` on the native consumer. */
export const subscribe =
  (config: ConfluentConfig.Resolved, options: Properties.ConsumerOptions) =>
  (
    subscription: Subscription,
    listener: GroupListener
  ): Effect.Effect<GroupSession, KafkaError.KafkaError, Scope.Scope> =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const failure = yield* Deferred.make<never, KafkaError.KafkaError>()
      let member: Member | undefined
      const wiring: Wiring = {
        config,
        subscription,
        options,
        rebalances: yield* Queue.unbounded<Rebalance.Rebalance>(),
        commits: new Commits(),
        runtime: yield* Effect.runtime<never>(),
        member: () => member
      }
      const consumer = yield* makeClient(wiring, 0)
      member = new Member(
        consumer,
        config,
        subscription,
        options,
        listener,
        failure,
        yield* Effect.makeSemaphore(1),
        scope,
        new Watchdog(
          Duration.toMillis(Properties.rejoinTimeout(config, subscription, options)),
          options.groupProtocol,
          Date.now()
        )
      )
      const self = member
      yield* Members.register(self)

      // Finalizers run last-added first: the client closes (its last revocation acknowledged by
      // the rebalance handler) before the handler and the poll loop stop.
      yield* Effect.forkIn(Rebalance.handle(self, wiring.rebalances), scope)
      // Before the close's finalizer, so that it stops after the close: a commit still waiting
      // then ends at its deadline, as it did with a timeout of its own.
      yield* Effect.forkIn(Session.expireCommits(wiring.commits, self.config.requestTimeout), scope)
      yield* Effect.addFinalizer(() => Session.close(self))
      yield* join(wiring, consumer)
      yield* Effect.forkIn(pollLoop(self), scope)
      yield* Effect.forkIn(watch(wiring, self), scope)

      const serial = yield* Effect.makeSemaphore(1)
      const session: GroupSession = {
        commit: Session.commit(self, wiring.commits, serial),
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
