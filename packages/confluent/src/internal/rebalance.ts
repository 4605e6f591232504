/**
 * Rebalances: librdkafka's `rebalance_cb`, held until the engine is done with it.
 *
 * The native consumer calls the callback from inside `consume` and returns to librdkafka at
 * once (`src/callbacks.cc:501-504` queues the event for the JavaScript thread); librdkafka
 * then waits, with the partitions still assigned and fetched, until the application calls
 * `assign`/`unassign` (eager) or `incrementalAssign`/`incrementalUnassign` (cooperative,
 * KIP-848). That call is the acknowledgement, so the driver makes it only after the listener
 * returned: a revocation is held until the engine drained and committed (G4, G7), and
 * librdkafka bounds it with the rebalance timeout (`max.poll.interval.ms`).
 *
 * Events are handled one at a time, in the order librdkafka reported them, by one fiber. The
 * poll loop goes on meanwhile, so the partitions a cooperative or KIP-848 rebalance leaves
 * with this member keep being delivered while the revoked ones drain.
 */
import type { PartitionAssignment } from "@sluice/core/ConsumerDriver"
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Queue from "effect/Queue"
import { codeOf, codes, toKafkaError } from "../ConfluentError.js"
import { fetchCommitted } from "./committed.js"
import { flushHeld, startAt } from "./delivery.js"
import type { Member, Owned } from "./member.js"
import { type NativeConsumer, type NativeError, type NativeTopicPartition, offsetStored } from "./native.js"
import { isEager } from "./properties.js"

/** A rebalance as librdkafka reported it. */
export interface Rebalance {
  readonly _tag: "assign" | "revoke"
  readonly partitions: ReadonlyArray<TP.TopicPartition>
  /** A revocation of partitions this member no longer owns (fenced, session expired). */
  readonly lost: boolean
  /** The client that reported it, and its `Member.generation`. */
  readonly consumer: NativeConsumer
  readonly generation: number
}

/**
 * The `rebalance_cb` to configure for the member's client of `generation`: reads what can only
 * be read inside the callback (`assignmentLost`) and queues the event for `handle`. The client
 * calls it with itself as `this` (`lib/kafka-consumer.js:100`).
 */
export const callback = (queue: Queue.Queue<Rebalance>, generation: number) =>
  function (
    this: NativeConsumer,
    error: NativeError | number | undefined,
    assignment: ReadonlyArray<NativeTopicPartition>
  ): void {
    const code = codeOf(error)
    const partitions = assignment.map((tp) => TP.make(tp.topic, tp.partition))
    if (code === codes.assignPartitions) {
      Queue.unsafeOffer(queue, { _tag: "assign", partitions, lost: false, consumer: this, generation })
    } else if (code === codes.revokePartitions) {
      let lost = false
      try {
        lost = this.assignmentLost()
      } catch {
        // Only fails once the client is closing, when nothing may be committed anyway.
        lost = true
      }
      Queue.unsafeOffer(queue, { _tag: "revoke", partitions, lost, consumer: this, generation })
    }
  }

const acknowledge = (member: Member, what: string, call: () => void): Effect.Effect<void> =>
  Effect.suspend(() => {
    try {
      call()
      return Effect.void
    } catch (error) {
      // While closing, librdkafka may already have dropped the assignment itself.
      if (member.closing) return Effect.void
      return member.fail(toKafkaError(error, `ConfluentDriver.${what}`))
    }
  })

const toNative = (tp: TP.TopicPartition, offset?: number): NativeTopicPartition =>
  offset === undefined
    ? { topic: tp.topic, partition: tp.partition }
    : { topic: tp.topic, partition: tp.partition, offset }

/** The partitions' committed offsets with their metadata; unreadable, the session fails (the member leaves). */
const committedOf = (member: Member, fresh: ReadonlyArray<TP.TopicPartition>) =>
  Effect.flatMap(Effect.either(fetchCommitted(member.consumer, fresh, member.config.requestTimeout)), (committed) =>
    Either.isLeft(committed) ? Effect.as(member.fail(committed.left), undefined) : Effect.succeed(committed.right)
  )

/**
 * Lets the engine open the new partitions' transactional producers before their committed
 * offsets are read (`GroupListener.prepare`). Under read_committed librdkafka reads them with
 * `require_stable` (`rdkafka_request.c:1319-1320`, `rdkafka_partition.c:1477`): a transaction a
 * crashed owner left open keeps them pending, and the read, ours and librdkafka's own for where to
 * fetch from, waits until that transaction times out. The open fences it and aborts it at once.
 */
const prepare = (member: Member, fresh: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
  member.listener.prepare === undefined || fresh.length === 0 ? Effect.void : member.listener.prepare(fresh)

const assignmentsOf = (
  fresh: ReadonlyArray<TP.TopicPartition>,
  committed: ReadonlyMap<string, PartitionAssignment["committed"]>
): Array<PartitionAssignment> => fresh.map((tp) => ({ topicPartition: tp, committed: committed.get(TP.key(tp)) }))

const newOwned = (tp: TP.TopicPartition, status: Owned["status"], next: number | undefined): Owned => ({
  topicPartition: tp,
  status,
  next,
  paused: false,
  held: [],
  heldBytes: 0,
  stopped: false,
  logEnd: undefined,
  lost: false
})

/**
 * A rebalance gave these partitions, acknowledged in order: their committed offsets (with
 * metadata) are read, an external offset store says where they start instead when there is one
 * (G10), the engine hears `onAssigned`, and only then are they assigned in librdkafka, starting
 * exactly at the offsets the engine was told. For eager rebalances (nothing is kept through
 * them anyway) and with an external offset store.
 */
const assignInOrder = (
  member: Member,
  partitions: ReadonlyArray<TP.TopicPartition>,
  add: (list: ReadonlyArray<NativeTopicPartition>) => Effect.Effect<void>
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const fresh = partitions.filter((tp) => !member.owned.has(TP.key(tp)))
    // Listed before `prepare`: a transactional producer opened there finds this member the
    // partition's owner and commits with its group metadata (KIP-447).
    for (const tp of fresh) member.owned.set(TP.key(tp), newOwned(tp, "assigning", undefined))
    yield* prepare(member, fresh)
    const committed = yield* committedOf(member, fresh)
    if (committed === undefined) return
    const given = assignmentsOf(fresh, committed)
    const positions = member.listener.positions
    const started =
      positions === undefined || given.length === 0 ? Either.right(given) : yield* Effect.either(positions(given))
    if (Either.isLeft(started)) return yield* member.fail(started.left)
    const assignments = started.right
    const starts = new Map(assignments.map((a) => [TP.key(a.topicPartition), a.committed?.offset]))
    for (const a of assignments) {
      member.owned.set(TP.key(a.topicPartition), newOwned(a.topicPartition, "owned", a.committed?.offset))
    }
    // Even with nothing new: the listener learns that the member is in the group again (the port asks it).
    yield* member.callListener("onAssigned", member.listener.onAssigned(assignments), assignments.length)
    yield* add(partitions.map((tp) => toNative(tp, starts.get(TP.key(tp)) ?? offsetStored)))
  })

/**
 * An incremental rebalance (cooperative-sticky, KIP-848) gave these partitions. librdkafka
 * stops fetching *every* assigned partition until the assignment is acknowledged
 * (`rdkafka_cgrp.c:1341-1348`), so it is acknowledged at once, before the engine hears of it:
 * the partitions this member keeps are fetched again straight away (G11). The new ones start
 * at the group's committed offset (librdkafka reads it as the driver does, and nobody else
 * commits them now: their previous owner committed before it gave them up, or was fenced);
 * their records are held (`assigning`) until `onAssigned` returned with the committed offsets
 * and metadata read meanwhile, then delivered from that offset on.
 */
const assignIncremental = (
  member: Member,
  partitions: ReadonlyArray<TP.TopicPartition>,
  add: (list: ReadonlyArray<NativeTopicPartition>) => Effect.Effect<void>
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const fresh = partitions.filter((tp) => !member.owned.has(TP.key(tp)))
    for (const tp of fresh) member.owned.set(TP.key(tp), newOwned(tp, "assigning", undefined))
    yield* add(partitions.map((tp) => toNative(tp, offsetStored)))
    yield* prepare(member, fresh)
    const committed = yield* committedOf(member, fresh)
    if (committed === undefined) return
    const assignments = assignmentsOf(fresh, committed)
    yield* member.callListener("onAssigned", member.listener.onAssigned(assignments), assignments.length)
    yield* member.lock.withPermits(1)(
      Effect.suspend(() => {
        const ready: Array<Owned> = []
        for (const a of assignments) {
          const o = member.owned.get(TP.key(a.topicPartition))
          if (o === undefined || o.status !== "assigning") continue
          if (a.committed !== undefined) startAt(o, a.committed.offset)
          o.status = "owned"
          ready.push(o)
        }
        return flushHeld(member, ready)
      })
    )
  })

/** A rebalance gave these partitions (see `assignInOrder` and `assignIncremental`). */
const assign = (member: Member, partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const eager = isEager(member.options)
    const add = (list: ReadonlyArray<NativeTopicPartition>) =>
      acknowledge(member, "assign", () =>
        eager ? member.consumer.assign(list) : member.consumer.incrementalAssign(list)
      )
    if (member.closing) return add(partitions.map((tp) => toNative(tp)))
    // An external offset store (G10) says where new partitions start: librdkafka must be told
    // those positions, so the assignment waits for them.
    return eager || member.listener.positions !== undefined
      ? assignInOrder(member, partitions, add)
      : assignIncremental(member, partitions, add)
  })

/** Forgets partitions, and lets librdkafka fetch again those it was told to stop. */
const release = (member: Member, owned: ReadonlyArray<Owned>): void => {
  for (const o of owned) {
    member.owned.delete(TP.key(o.topicPartition))
    o.held = []
    o.heldBytes = 0
    member.fetching(o, true)
  }
}

/**
 * A rebalance takes these partitions: deliveries of them stop, the engine drains and commits
 * (`onRevoked`) or drops them (`onLost`), and only then does librdkafka hear that they are
 * given up.
 */
const revoke = (member: Member, partitions: ReadonlyArray<TP.TopicPartition>, lost: boolean): Effect.Effect<void> =>
  Effect.gen(function* () {
    const owned: Array<Owned> = []
    for (const tp of partitions) {
      const o = member.owned.get(TP.key(tp))
      if (o !== undefined) owned.push(o)
    }
    if (owned.length > 0) {
      // At once, not behind a delivery: a commit of a lost partition can only fail, and the
      // engine's handling of the loss waits for its committer.
      if (lost) member.lose(owned)
      // Under the lock: a delivery in progress finishes first, none starts for these after.
      yield* member.lock.withPermits(1)(
        Effect.sync(() => {
          for (const o of owned) o.status = "revoking"
        })
      )
      const taken = owned.map((o) => o.topicPartition)
      yield* lost
        ? member.callListener("onLost", member.listener.onLost(taken), taken.length)
        : member.callListener("onRevoked", member.listener.onRevoked(taken), taken.length)
      release(member, owned)
    }
    yield* acknowledge(member, "revoke", () =>
      isEager(member.options)
        ? member.consumer.unassign()
        : member.consumer.incrementalUnassign(partitions.map((tp) => toNative(tp)))
    )
  })

/**
 * A rebalance of a client the watchdog replaced: nothing of it is the engine's (the member owned
 * nothing when the client was replaced), so it is acknowledged as librdkafka's default handler
 * would, and the old client closes without waiting for it.
 */
const acknowledgeStale = (member: Member, rebalance: Rebalance): Effect.Effect<void> =>
  Effect.sync(() => {
    const list = rebalance.partitions.map((tp) => toNative(tp))
    const eager = isEager(member.options)
    try {
      if (rebalance._tag === "assign") {
        if (eager) rebalance.consumer.assign(list)
        else rebalance.consumer.incrementalAssign(list)
      } else if (eager) rebalance.consumer.unassign()
      else rebalance.consumer.incrementalUnassign(list)
    } catch {
      // The old client is closing or closed: it no longer waits for the call.
    }
  })

/** Handles the rebalances `callback` queued, one at a time, for as long as the session lives. */
export const handle = (member: Member, queue: Queue.Queue<Rebalance>): Effect.Effect<never> =>
  Effect.forever(
    Effect.flatMap(Queue.take(queue), (rebalance) =>
      rebalance.generation !== member.generation
        ? acknowledgeStale(member, rebalance)
        : (rebalance._tag === "assign"
            ? assign(member, rebalance.partitions)
            : revoke(member, rebalance.partitions, rebalance.lost)
          ).pipe(
            Effect.withSpan(`ConfluentDriver.${rebalance._tag}`, {
              attributes: { partitions: rebalance.partitions.length, lost: rebalance.lost }
            })
          )
    )
  )
