/**
 * Revocation before rejoin: the gate kafkajs passes through at the start of every (re)join,
 * where the partitions still owned are revoked (or declared lost) and the join waits for the
 * listener.
 *
 * kafkajs has no revoke callback; this is the one place where a rebalance can be held until
 * the engine has drained and committed (G4, G7). The README explains the workaround.
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
import * as Effect from "effect/Effect"
import { type PartitionAssigner, PartitionAssigners } from "kafkajs"
import { isFenced } from "../KafkaJsError.js"
import { observe } from "./coordinator.js"
import { closingMessage } from "./log.js"
import type { Member } from "./member.js"

// Thrown into kafkajs's join when the scope is closing: not retriable, so the join bails
// and the runner stops instead of joining a group we are leaving.
const closingError = (): Error =>
  Object.assign(new Error(closingMessage), { name: "SluiceConsumerClosing", retriable: false })

/**
 * Every (re)join starts with `cluster.findGroupCoordinator({ groupId })`
 * (`consumerGroup.js:164-167`), and the assigner factory receives that same cluster
 * (`consumer/index.js:72-74`). So the factory wraps the method on this member's cluster:
 * before the JoinGroup of a rebalance, the gate runs. The consumer calls the method nowhere
 * else except `describeGroup` (`consumer/index.js:420`), which the driver never calls; the
 * admin client has its own cluster.
 */
export const assigner =
  (member: Member): PartitionAssigner =>
  (config) => {
    const cluster = config.cluster
    const find = cluster.findGroupCoordinator.bind(cluster)
    cluster.findGroupCoordinator = async (request) => {
      if (request.groupId !== member.subscription.groupId) return find(request)
      await gate(member)
      return observe(await find(request), {
        onJoin: (generation) => {
          member.generation = generation
        },
        onFenced: () => {
          member.fenced = true
        }
      })
    }
    // Same name, version and assignment as kafkajs's round robin: members of one group
    // running plain kafkajs and this driver agree on the protocol.
    return PartitionAssigners.roundRobin(config)
  }

const gate = async (member: Member): Promise<void> => {
  if (member.closed) throw closingError()
  await member.serial(async () => {
    if (member.owned.size === 0) return
    const owned = [...member.owned.values()]
    const partitions = owned.map((o) => o.topicPartition)
    if (member.fenced) {
      // Out of the generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION): another member may
      // own these already, and a commit would be refused anyway.
      member.release(owned)
      await member.callListener("onLost", member.listener.onLost(partitions), partitions.length)
    } else {
      for (const o of owned) o.status = "revoking"
      await member.callListener(
        "onRevoked",
        keepAlive(member, member.listener.onRevoked(partitions)),
        partitions.length
      )
      member.release(owned)
    }
  })
  if (member.closed) throw closingError()
}

/** The coordinator's answer to a heartbeat during a rebalance: it still resets the session timer. */
const rebalancing = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { type?: unknown }).type === "REBALANCE_IN_PROGRESS"

/**
 * While `onRevoked` runs, kafkajs's fetch loop (which is the only thing that heartbeats,
 * `runner.js:207-216, 371-373, 458`) is stopped inside the rejoin. The coordinator keeps
 * the member's session timer running until it sends its JoinGroup, so a revocation longer
 * than the session timeout would get the member removed and its final commit refused.
 * The gate therefore heartbeats itself with the generation of the last join; the answer
 * is REBALANCE_IN_PROGRESS, which still resets the session timer. The rebalance timeout
 * then bounds the revocation, as in the Java client.
 */
const keepAlive = (member: Member, effect: Effect.Effect<void>): Effect.Effect<void> => {
  const generation = member.generation
  if (generation === undefined) return effect
  const request = {
    groupId: member.subscription.groupId,
    groupGenerationId: generation.generationId,
    memberId: generation.memberId
  }
  const answered = Effect.sync(() => {
    member.lastHeartbeat = Date.now()
  })
  const beat = Effect.tryPromise(() => generation.coordinator.heartbeat(request)).pipe(
    Effect.zipRight(answered),
    Effect.catchAll((error) =>
      rebalancing(error.cause)
        ? answered
        : isFenced(error.cause)
          ? Effect.logWarning("Sluice: fenced while revoking; the final commit will be refused", error.cause)
          : Effect.void
    )
  )
  const heartbeats = Effect.forever(Effect.zipRight(beat, Effect.sleep(member.subscription.heartbeatInterval)))
  return Effect.raceFirst(effect, heartbeats)
}
