/**
 * The consumer port: `subscribe` opens a member's session in its group (joining it and
 * forking its poll loop for the scope) and returns the `GroupSession` the engine drives:
 * commit, pause, resume.
 *
 * Owns: nothing beyond the session object.
 * May touch: a member's `paused` flags (`pause`, `resume`) and wake-up signal. Everything
 * else goes through the other modules: the group (`Coordinator.groupFor`), the membership
 * (`Membership.open`, `join`, `leave`), the poll loop (`PollLoop.run`) and commits.
 */
import type { GroupListener, GroupSession, Subscription } from "@sluice/core/ConsumerDriver"
import type * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { Cluster } from "./cluster.js"
import { kafkaError } from "./errors.js"
import { Member } from "./group.js"

export const subscribe = (
  cluster: Cluster,
  subscription: Subscription,
  listener: GroupListener
): Effect.Effect<GroupSession, KafkaError.KafkaError, Scope.Scope> =>
  Effect.gen(function* () {
    if (subscription.groupId.length === 0) {
      return yield* Effect.fail(kafkaError("subscribe", "protocol", "groupId must not be empty"))
    }
    if (subscription.topics.length === 0) {
      return yield* Effect.fail(kafkaError("subscribe", "protocol", "subscribe to at least one topic"))
    }
    const group = yield* cluster.coordinator.groupFor(subscription.groupId)
    const holder = cluster.membership.instanceHolder(group, subscription.groupInstanceId)
    if (holder !== undefined) {
      return yield* Effect.fail(
        kafkaError(
          "subscribe",
          "protocol",
          `unreleased instance id ${subscription.groupInstanceId}: member ${holder.id} of group ${group.id} still holds it`
        )
      )
    }
    const member = new Member(
      group,
      subscription,
      listener,
      Duration.toMillis(cluster.options.sessionTimeout ?? subscription.sessionTimeout),
      Duration.toMillis(cluster.options.rebalanceTimeout ?? subscription.rebalanceTimeout)
    )
    yield* Effect.acquireRelease(
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        cluster.membership.open(member)
        cluster.membership.join(member, now, false)
        // Acquisition is uninterruptible and a fork inherits that: the loop must not.
        return Effect.forkDaemon(Effect.interruptible(cluster.poll.run(member)))
      }),
      (fiber) =>
        Effect.zipRight(
          Fiber.interrupt(fiber),
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => cluster.membership.leave(member, now)))
        )
    )
    const session: GroupSession = {
      commit: (offsets) =>
        offsets.length === 0
          ? Effect.void
          : Effect.flatMap(Clock.currentTimeMillis, (now) => {
              const error = cluster.commits.commit(member, offsets, now)
              return error === undefined ? Effect.void : Effect.fail(error)
            }).pipe(
              Effect.withSpan("MemoryKafka.commit", { attributes: { groupId: group.id }, captureStackTrace: false })
            ),
      pause: (partitions) =>
        Effect.sync(() => {
          for (const tp of partitions) {
            const fetching = member.fetching.get(TP.key(tp))
            if (fetching !== undefined) fetching.paused = true
          }
        }),
      resume: (partitions) =>
        Effect.sync(() => {
          let resumed = false
          for (const tp of partitions) {
            const fetching = member.fetching.get(TP.key(tp))
            if (fetching?.paused) {
              fetching.paused = false
              resumed = true
            }
          }
          if (resumed) member.wake.notify()
        }),
      memberId: Effect.sync(() => member.id),
      failed: Deferred.await(member.failed),
      // No heartbeats here: a simulated member is in its group until a fault says otherwise.
      activity: Effect.map(Clock.currentTimeMillis, (now) => ({
        lastPoll: member.idle ? now : member.lastPoll,
        lastHeartbeat: undefined
      }))
    }
    return session
  }).pipe(Effect.withSpan("MemoryKafka.subscribe", { attributes: { groupId: subscription.groupId } }))
