/**
 * One consumer group member on kafkajs: the `ConsumerDriver.subscribe` implementation.
 *
 * File:line references are to kafkajs 2.2.4 `src/`; the README explains each workaround.
 */
import type {
  GroupListener,
  GroupSession,
  OffsetAndMetadata,
  PartitionAssignment,
  Subscription
} from "@sluice/core/ConsumerDriver"
import * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import {
  type Admin,
  type Broker,
  type Consumer,
  type ConsumerCrashEvent,
  type ConsumerEndBatchProcessEvent,
  type ConsumerGroupJoinEvent,
  type EachBatchPayload,
  type PartitionAssigner,
  PartitionAssigners
} from "kafkajs"
import type * as KafkaJsConfig from "../KafkaJsConfig.js"
import { isFenced, toKafkaError } from "../KafkaJsError.js"
import { makeKafka, retryOptions } from "./client.js"
import * as Position from "./position.js"
import { toRawRecord } from "./records.js"

/** Consumer tunables beyond the `Subscription`; see `KafkaJsDriver.ConsumerOptions`. */
export interface ConsumerOptions {
  readonly partitionsConsumedConcurrently: number
  readonly maxWaitTime: Duration.Duration
  readonly maxRestarts: number
  readonly allowAutoTopicCreation: boolean
  readonly readUncommitted: boolean
}

interface Owned {
  readonly topicPartition: TP.TopicPartition
  /** `revoking` while `onRevoked` runs: commits are still allowed, deliveries are not. */
  status: "owned" | "revoking"
  readonly position: Position.Position
}

/** What the member's last JoinGroup returned, for heartbeats of its own (`keepAlive`). */
interface Generation {
  readonly coordinator: CoordinatorBroker
  readonly generationId: number
  readonly memberId: string
}

/** The group coordinator as kafkajs's `Broker` class has it (`broker/index.js:341-436`). */
interface CoordinatorBroker {
  heartbeat(request: { groupId: string; groupGenerationId: number; memberId: string }): Promise<unknown>
}

interface JoinGroupResponse {
  readonly generationId: number
  readonly memberId: string
}

// Thrown into kafkajs's join when the scope is closing: not retriable, so the join bails
// and the runner stops instead of joining a group we are leaving.
const closingError = (): Error =>
  Object.assign(new Error("Sluice: the consumer is closing"), { name: "SluiceConsumerClosing", retriable: false })

const show = (tp: TP.TopicPartition): string => `${tp.topic}-${tp.partition}`

const byTopic = (partitions: ReadonlyArray<TP.TopicPartition>): Array<{ topic: string; partitions: Array<number> }> => {
  const topics = new Map<string, Array<number>>()
  for (const tp of partitions) {
    const list = topics.get(tp.topic)
    if (list === undefined) topics.set(tp.topic, [tp.partition])
    else list.push(tp.partition)
  }
  return [...topics].map(([topic, partitions]) => ({ topic, partitions }))
}

class Member {
  readonly owned = new Map<string, Owned>()
  /** Partitions paused at the engine's request, mirrored so `eachBatch` can skip them. */
  readonly paused = new Set<string>()
  private queue: Promise<unknown> = Promise.resolve()
  closed = false
  /** An error seen by this member said it is out of the generation (see `observe`). */
  fenced = false
  /** kafkajs crashed and stopped its runner; cleared by the next join. */
  crashed: { readonly error: Error; readonly restart: boolean } | undefined = undefined
  restarts = 0
  memberId: string | undefined = undefined
  generation: Generation | undefined = undefined
  consumer: Consumer | undefined = undefined
  /** COMMIT_OFFSETS events seen: tells a real commit from kafkajs's silent no-op. */
  commitsSeen = 0

  constructor(
    readonly runtime: Runtime.Runtime<never>,
    readonly subscription: Subscription,
    readonly listener: GroupListener,
    readonly options: ConsumerOptions,
    readonly failure: Deferred.Deferred<never, KafkaError.KafkaError>,
    readonly admin: Admin
  ) {}

  /**
   * Runs `task` after every task queued before it. Everything that calls the listener goes
   * through here, in the order kafkajs reported it, so the listener sees one call at a time
   * and never records of a partition after its revocation began.
   */
  serial<A>(task: () => Promise<A>): Promise<A> {
    const next = this.queue.then(task)
    this.queue = next.catch(() => undefined)
    return next
  }

  run<A, E>(effect: Effect.Effect<A, E>): Promise<A> {
    return Runtime.runPromise(this.runtime)(effect)
  }

  /** Calls the listener; a defect there fails the session instead of breaking kafkajs. */
  callListener(name: string, effect: Effect.Effect<void>, partitions?: number): Promise<void> {
    const traced =
      partitions === undefined
        ? effect
        : Effect.withSpan(effect, `KafkaJsDriver.${name}`, { attributes: { partitions } })
    return this.run(
      Effect.catchAllCause(traced, (cause) =>
        Effect.zipRight(
          Effect.logError(`Sluice: the group listener's ${name} failed`, cause),
          Deferred.fail(
            this.failure,
            KafkaError.make({
              reason: "unknown",
              operation: `KafkaJsDriver.${name}`,
              message: Cause.pretty(cause),
              cause: Cause.squash(cause)
            })
          )
        )
      )
    ).then(
      () => undefined,
      () => undefined
    )
  }

  fail(error: KafkaError.KafkaError): Promise<void> {
    return this.run(Deferred.fail(this.failure, error)).then(
      () => undefined,
      () => undefined
    )
  }

  // -------------------------------------------------------------------------------------
  // Revocation before rejoin
  // -------------------------------------------------------------------------------------

  /**
   * kafkajs has no revoke callback. Every (re)join starts with
   * `cluster.findGroupCoordinator({ groupId })` (`consumerGroup.js:164-167`), and the
   * assigner factory receives that same cluster (`consumer/index.js:72-74`). So the factory
   * wraps the method on this member's cluster: before the JoinGroup of a rebalance, the
   * partitions still owned are revoked (or declared lost) and the join waits for the
   * listener. The consumer calls the method nowhere else except `describeGroup`
   * (`consumer/index.js:420`), which the driver never calls; the admin client has its own
   * cluster.
   */
  readonly assigner: PartitionAssigner = (config) => {
    const cluster = config.cluster
    const find = cluster.findGroupCoordinator.bind(cluster)
    cluster.findGroupCoordinator = async (request) => {
      if (request.groupId !== this.subscription.groupId) return find(request)
      await this.gate()
      return this.observe(await find(request))
    }
    // Same name, version and assignment as kafkajs's round robin: members of one group
    // running plain kafkajs and this driver agree on the protocol.
    return PartitionAssigners.roundRobin(config)
  }

  private async gate(): Promise<void> {
    if (this.closed) throw closingError()
    await this.serial(async () => {
      if (this.owned.size === 0) return
      const owned = [...this.owned.values()]
      const partitions = owned.map((o) => o.topicPartition)
      if (this.fenced) {
        // Out of the generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION): another member may
        // own these already, and a commit would be refused anyway.
        this.release(owned)
        await this.callListener("onLost", this.listener.onLost(partitions), partitions.length)
      } else {
        for (const o of owned) o.status = "revoking"
        await this.callListener("onRevoked", this.keepAlive(this.listener.onRevoked(partitions)), partitions.length)
        this.release(owned)
      }
    })
    if (this.closed) throw closingError()
  }

  /**
   * While `onRevoked` runs, kafkajs's fetch loop (which is the only thing that heartbeats,
   * `runner.js:207-216, 371-373, 458`) is stopped inside the rejoin. The coordinator keeps
   * the member's session timer running until it sends its JoinGroup, so a revocation longer
   * than the session timeout would get the member removed and its final commit refused.
   * The gate therefore heartbeats itself with the generation of the last join; the answer
   * is REBALANCE_IN_PROGRESS, which still resets the session timer. The rebalance timeout
   * then bounds the revocation, as in the Java client.
   */
  private keepAlive(effect: Effect.Effect<void>): Effect.Effect<void> {
    const generation = this.generation
    if (generation === undefined) return effect
    const request = {
      groupId: this.subscription.groupId,
      groupGenerationId: generation.generationId,
      memberId: generation.memberId
    }
    const beat = Effect.tryPromise(() => generation.coordinator.heartbeat(request)).pipe(
      Effect.catchAll((error) =>
        isFenced(error.cause)
          ? Effect.logWarning("Sluice: fenced while revoking; the final commit will be refused", error.cause)
          : Effect.void
      )
    )
    const heartbeats = Effect.forever(Effect.zipRight(beat, Effect.sleep(this.subscription.heartbeatInterval)))
    return Effect.raceFirst(effect, heartbeats)
  }

  /** Forgets partitions and clears kafkajs's pause state for them, which survives rebalances. */
  private release(owned: ReadonlyArray<Owned>): void {
    const partitions: Array<TP.TopicPartition> = []
    for (const o of owned) {
      const key = TP.key(o.topicPartition)
      this.owned.delete(key)
      if (this.paused.delete(key)) partitions.push(o.topicPartition)
    }
    if (partitions.length > 0) this.control("resume", partitions)
  }

  /**
   * Wraps the coordinator kafkajs joins through: the JoinGroup answer gives the generation
   * for `keepAlive`, and a heartbeat, sync or commit refused with UNKNOWN_MEMBER_ID /
   * ILLEGAL_GENERATION / FENCED_INSTANCE_ID marks the member fenced, so the next gate
   * declares the partitions lost instead of revoking them. kafkajs re-joins after these
   * with a reset member id (`runner.js:131-139`) or a new generation (`runner.js:115-127`).
   */
  private observe(broker: Broker): Broker {
    const watch =
      (method: (request: unknown) => Promise<unknown>, target: object) =>
      async (request: unknown): Promise<unknown> => {
        try {
          return await method.call(target, request)
        } catch (error) {
          if (isFenced(error)) this.fenced = true
          throw error
        }
      }
    return new Proxy(broker, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property, target)
        if (typeof value !== "function") return value
        const method = value as (request: unknown) => Promise<unknown>
        if (property === "joinGroup") {
          return async (request: unknown) => {
            const response = (await watch(method, target)(request)) as JoinGroupResponse
            this.generation = {
              coordinator: target as unknown as CoordinatorBroker,
              generationId: response.generationId,
              memberId: response.memberId
            }
            return response
          }
        }
        if (property === "heartbeat" || property === "syncGroup" || property === "offsetCommit") {
          return watch(method, target)
        }
        return method.bind(target)
      }
    })
  }

  // -------------------------------------------------------------------------------------
  // kafkajs events
  // -------------------------------------------------------------------------------------

  attach(consumer: Consumer): void {
    this.consumer = consumer
    consumer.on(consumer.events.GROUP_JOIN, this.onGroupJoin)
    consumer.on(consumer.events.CRASH, this.onCrash)
    consumer.on(consumer.events.END_BATCH_PROCESS, this.onBatchEnd)
    consumer.on(consumer.events.COMMIT_OFFSETS, () => {
      this.commitsSeen++
    })
  }

  /**
   * A join completed (emitted at `consumerGroup.js:353`, before `joinAndSync` returns and
   * so before the first fetch of the generation). The committed offsets are read with their
   * metadata, which kafkajs's own offset fetch drops, and the listener hears `onAssigned`
   * before any `onRecords` of the generation: `eachBatch` queues behind this.
   */
  private readonly onGroupJoin = (event: ConsumerGroupJoinEvent): void => {
    const { memberAssignment, memberId } = event.payload
    const assigned: Array<TP.TopicPartition> = []
    for (const topic of Object.keys(memberAssignment)) {
      for (const partition of memberAssignment[topic] ?? []) assigned.push(TP.make(topic, partition))
    }
    assigned.sort(TP.order)
    void this.serial(async () => {
      this.memberId = memberId
      this.fenced = false
      this.crashed = undefined
      this.restarts = 0
      if (this.owned.size > 0) {
        // Every rejoin passes the gate, which empties `owned`; a join it did not see means
        // the old generation is gone without us.
        const stale = [...this.owned.values()]
        this.release(stale)
        await this.callListener("onLost", this.listener.onLost(stale.map((o) => o.topicPartition)), stale.length)
      }
      if (this.closed) return
      const committed = await this.run(Effect.either(this.committed(assigned)))
      if (Either.isLeft(committed)) {
        // Unowned, these would be fetched and dropped in a loop until the session closes.
        this.control("pause", assigned)
        await this.fail(committed.left)
        return
      }
      const assignments: Array<PartitionAssignment> = assigned.map((tp) => ({
        topicPartition: tp,
        committed: committed.right.get(TP.key(tp))
      }))
      for (const assignment of assignments) {
        this.owned.set(TP.key(assignment.topicPartition), {
          topicPartition: assignment.topicPartition,
          status: "owned",
          position: Position.make(assignment.committed?.offset)
        })
      }
      await this.callListener("onAssigned", this.listener.onAssigned(assignments), assignments.length)
    })
  }

  private committed(
    partitions: ReadonlyArray<TP.TopicPartition>
  ): Effect.Effect<Map<string, { readonly offset: number; readonly metadata: string }>, KafkaError.KafkaError> {
    if (partitions.length === 0) return Effect.succeed(new Map())
    const topics = [...new Set(partitions.map((tp) => tp.topic))]
    return Effect.tryPromise({
      try: () => this.admin.fetchOffsets({ groupId: this.subscription.groupId, topics }),
      catch: (error) => toKafkaError(error, "KafkaJsDriver.fetchCommitted")
    }).pipe(
      Effect.retry({
        schedule: Schedule.intersect(Schedule.exponential("200 millis"), Schedule.recurs(5)),
        while: (error) => error.retriable
      }),
      Effect.map((responses) => {
        const out = new Map<string, { readonly offset: number; readonly metadata: string }>()
        for (const { partitions, topic } of responses) {
          for (const p of partitions) {
            const offset = Number(p.offset)
            // -1 is "none"; kafkajs may also have committed -1/-2 itself after an
            // OFFSET_OUT_OF_RANGE reset (`offsetManager/index.js:140-158`).
            if (offset >= 0) out.set(TP.key({ topic, partition: p.partition }), { offset, metadata: p.metadata ?? "" })
          }
        }
        return out
      }),
      Effect.withSpan("KafkaJsDriver.fetchCommitted", { attributes: { partitions: partitions.length } })
    )
  }

  /**
   * kafkajs crashed: it already left the group and disconnected (`consumer/index.js:246-302`),
   * so whatever this member owned is lost. With `restart`, kafkajs joins again as a new
   * member after a back-off and the next GROUP_JOIN assigns afresh; without, the session
   * fails.
   */
  private readonly onCrash = (event: ConsumerCrashEvent): void => {
    const { error, restart } = event.payload
    this.crashed = { error, restart }
    void this.serial(async () => {
      this.generation = undefined
      this.memberId = undefined
      // The crashed ConsumerGroup took its pause state with it.
      const lost = [...this.owned.values()]
      for (const o of lost) this.owned.delete(TP.key(o.topicPartition))
      this.paused.clear()
      if (lost.length > 0) {
        await this.callListener("onLost", this.listener.onLost(lost.map((o) => o.topicPartition)), lost.length)
      }
      if (!restart && !this.closed) await this.fail(toKafkaError(error, "KafkaJsDriver.consume"))
    })
  }

  /** kafkajs resolved a batch it filtered out entirely (`runner.js:420-437`). */
  private readonly onBatchEnd = (event: ConsumerEndBatchProcessEvent): void => {
    const { batchSize, lastOffset, partition, topic } = event.payload
    if (batchSize !== 0) return
    const owned = this.owned.get(TP.key({ topic, partition }))
    if (owned !== undefined) Position.skipped(owned.position, Number(lastOffset))
  }

  /**
   * kafkajs restarts a crashed consumer when the error is retriable (`consumer/index.js:267-301`).
   * A restart joins as a new member; the crash already reported the partitions lost.
   * Restarts are bounded so that a cluster gone for good fails the session, and never
   * happen once the scope is closing.
   */
  readonly restartOnFailure = async (): Promise<boolean> => {
    if (this.closed || this.restarts >= this.options.maxRestarts) return false
    this.restarts++
    return true
  }

  // -------------------------------------------------------------------------------------
  // Delivery
  // -------------------------------------------------------------------------------------

  /**
   * Hands a batch to the listener and returns: the engine applies backpressure by pausing,
   * so kafkajs's loop goes straight on to its heartbeat (`runner.js:457-458`). With
   * `autoCommit: false`, resolving only moves kafkajs's fetch position; nothing commits it
   * (`runner.js:464-474`).
   */
  readonly eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload
    const last = batch.messages[batch.messages.length - 1]
    if (last === undefined) return
    const key = TP.key(batch)
    // Not in kafkajs's types, but set on every Batch (`batch.js:10-11`).
    const fetchedOffset = Number((batch as unknown as { readonly fetchedOffset: string }).fetchedOffset)
    const lastOffset = Number(batch.lastOffset())
    const delivered = await this.serial(async () => {
      if (this.closed || !payload.isRunning() || payload.isStale()) return false
      const owned = this.owned.get(key)
      if (owned === undefined || owned.status !== "owned" || this.paused.has(key)) return false
      const decision = Position.lineUp(owned.position, fetchedOffset, lastOffset)
      if (decision._tag === "drop") return false
      if (decision.moved === "backward") {
        await this.run(
          Effect.logWarning("Sluice: kafkajs moved a partition's position backwards (offset reset)").pipe(
            Effect.annotateLogs({ partition: show(owned.topicPartition), fetchedOffset })
          )
        )
      }
      const records = []
      for (const message of batch.messages) {
        if (Number(message.offset) >= decision.from) records.push(toRawRecord(batch.topic, batch.partition, message))
      }
      if (records.length > 0)
        await this.callListener("onRecords", this.listener.onRecords(owned.topicPartition, records))
      return true
    })
    // The last filtered message maps to the batch's last offset, control records included
    // (`runner.js:276-296`), which `lineUp` counted on.
    if (delivered) payload.resolveOffset(last.offset)
  }

  // -------------------------------------------------------------------------------------
  // The session
  // -------------------------------------------------------------------------------------

  control(operation: "pause" | "resume", partitions: ReadonlyArray<TP.TopicPartition>): void {
    const consumer = this.consumer
    if (consumer === undefined || partitions.length === 0) return
    try {
      consumer[operation](byTopic(partitions))
    } catch {
      // kafkajs throws when its runner is not running (`consumer/index.js:449-453`): there
      // is nothing to pause, and the next ConsumerGroup starts unpaused.
    }
  }

  readonly pause = (partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
    Effect.sync(() => {
      // Only owned partitions: kafkajs keeps pause state across rebalances, and a stray
      // pause would silence a partition assigned later.
      const owned = partitions.filter((tp) => this.owned.has(TP.key(tp)))
      for (const tp of owned) this.paused.add(TP.key(tp))
      this.control("pause", owned)
    })

  readonly resume = (partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
    Effect.sync(() => {
      for (const tp of partitions) this.paused.delete(TP.key(tp))
      this.control("resume", partitions)
    })

  readonly commit = (offsets: ReadonlyArray<OffsetAndMetadata>): Effect.Effect<void, KafkaError.KafkaError> =>
    Effect.suspend(() => {
      if (offsets.length === 0) return Effect.void
      const consumer = this.consumer
      const refuse = (message: string) =>
        Effect.fail(KafkaError.make({ reason: "rebalance", operation: "KafkaJsDriver.commit", message }))
      if (this.closed || consumer === undefined) return refuse("the session is closed")
      if (this.crashed !== undefined) return refuse("kafkajs crashed and left the group")
      for (const offset of offsets) {
        if (!this.owned.has(TP.key(offset))) {
          return refuse(`${show(offset)} is not owned by this member (revoked, lost or never assigned)`)
        }
      }
      const request = offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: String(o.offset),
        metadata: o.metadata ?? null
      }))
      const before = this.commitsSeen
      return Effect.tryPromise({
        try: () => consumer.commitOffsets(request),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.commit", { commit: true })
      }).pipe(
        Effect.tapError((error) =>
          Effect.sync(() => {
            if (isFenced(error.cause)) this.fenced = true
          })
        ),
        Effect.flatMap(() =>
          // kafkajs returns without committing when its runner is not running
          // (`runner.js:476-484, 490-498`); only the COMMIT_OFFSETS event proves a commit.
          this.commitsSeen === before ? refuse("kafkajs is not running; nothing was committed") : Effect.void
        )
      )
    }).pipe(Effect.withSpan("KafkaJsDriver.commit", { attributes: { partitions: offsets.length } }))

  close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      const consumer = this.consumer
      if (consumer === undefined) return Effect.void
      // Stops the runner after the batches in hand, leaves the group and closes the
      // sockets (`consumer/index.js:96-131`, `runner.js:173-190`); nothing is committed.
      return Effect.tryPromise({
        try: () => consumer.disconnect(),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.disconnect")
      }).pipe(Effect.catchAll((error) => Effect.logWarning("Sluice: kafkajs consumer disconnect failed", error)))
    })
  }
}

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
      const runtime = yield* Effect.runtime<never>()
      const failure = yield* Deferred.make<never, KafkaError.KafkaError>()
      const kafka = makeKafka(config, subscription.clientId, runtime)
      const admin = kafka.admin()
      const member = new Member(runtime, subscription, listener, options, failure, admin)
      const consumer = yield* Effect.try({
        // kafkajs validates its options here and throws (e.g. heartbeat ≥ session timeout).
        try: () =>
          kafka.consumer({
            groupId: subscription.groupId,
            partitionAssigners: [member.assigner],
            sessionTimeout: Duration.toMillis(subscription.sessionTimeout),
            rebalanceTimeout: Duration.toMillis(subscription.rebalanceTimeout),
            heartbeatInterval: Duration.toMillis(subscription.heartbeatInterval),
            maxBytesPerPartition: subscription.maxBytesPerPartition,
            maxWaitTimeInMs: Duration.toMillis(options.maxWaitTime),
            allowAutoTopicCreation: options.allowAutoTopicCreation,
            readUncommitted: options.readUncommitted,
            retry: { ...retryOptions(config), restartOnFailure: member.restartOnFailure }
          }),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.subscribe")
      })
      member.attach(consumer)

      // Finalizers run last-added first: the consumer leaves before the admin closes.
      yield* Effect.addFinalizer(() => disconnectAdmin(admin))
      yield* Effect.tryPromise({
        try: () => admin.connect(),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.subscribe")
      })
      yield* Effect.addFinalizer(() => member.close())
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
            eachBatch: member.eachBatch
          }),
        catch: (error) => toKafkaError(error, "KafkaJsDriver.subscribe")
      })
      const crashed = member.crashed
      if (crashed !== undefined && !crashed.restart) {
        return yield* Effect.fail(toKafkaError(crashed.error, "KafkaJsDriver.subscribe"))
      }

      const session: GroupSession = {
        commit: member.commit,
        pause: member.pause,
        resume: member.resume,
        memberId: Effect.sync(() => member.memberId),
        failed: Deferred.await(failure)
      }
      return session
    }).pipe(
      Effect.withSpan("KafkaJsDriver.subscribe", {
        attributes: { groupId: subscription.groupId, topics: subscription.topics.join(",") }
      })
    )
