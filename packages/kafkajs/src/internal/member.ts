/**
 * The state one consumer group member on kafkajs keeps, shared by the gate
 * (`revocation.ts`), kafkajs's events (`events.ts`), delivery (`delivery.ts`) and the session
 * (`session.ts`): what it owns and has paused, what it knows of its generation, and the one
 * queue through which the group listener is called.
 *
 * The parts run as kafkajs calls them, on promises; they never touch the state across an
 * `await` except inside `serial`, which is what keeps ownership and listener calls in order.
 *
 * File:line references are to kafkajs 2.2.4 `src/`; the README explains each workaround.
 */
import type { GroupListener, Subscription } from "@sluice/core/ConsumerDriver"
import * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type { Admin, Consumer } from "kafkajs"
import type { Generation } from "./coordinator.js"
import type * as Position from "./position.js"

/** Consumer tunables beyond the `Subscription`; see `KafkaJsDriver.ConsumerOptions`. */
export interface ConsumerOptions {
  readonly partitionsConsumedConcurrently: number
  readonly maxWaitTime: Duration.Duration
  readonly maxBytes: number
  readonly maxRestarts: number
  readonly allowAutoTopicCreation: boolean
  readonly readUncommitted: boolean
}

/** A partition this member was assigned and has not given up yet. */
export interface Owned {
  readonly topicPartition: TP.TopicPartition
  /** `revoking` while `onRevoked` runs: commits are still allowed, deliveries are not. */
  status: "owned" | "revoking"
  readonly position: Position.Position
}

export class Member {
  readonly owned = new Map<string, Owned>()
  /** Partitions paused at the engine's request, mirrored so `eachBatch` can skip them. */
  readonly paused = new Set<string>()
  private queue: Promise<unknown> = Promise.resolve()
  closed = false
  /** An error seen by this member said it is out of the generation (see `coordinator.ts`). */
  fenced = false
  /**
   * A commit was answered NOT_COORDINATOR_FOR_GROUP after kafkajs's retries: kafkajs pins the
   * coordinator of a generation (`offsetManager/index.js:88-94` only reconnects to the same
   * broker), so no commit can land until the member rejoins and finds the new one. Cleared by
   * the next join.
   */
  coordinatorMoved = false
  /** kafkajs crashed and stopped its runner; cleared by the next join. */
  crashed: { readonly error: Error; readonly restart: boolean } | undefined = undefined
  restarts = 0
  memberId: string | undefined = undefined
  /** What the last JoinGroup returned, for the gate's own heartbeats. */
  generation: Generation | undefined = undefined
  consumer: Consumer | undefined = undefined
  /** COMMIT_OFFSETS events seen: tells a real commit from kafkajs's silent no-op. */
  commitsSeen = 0
  /** When kafkajs last completed a fetch and a heartbeat (`Date.now()`), for health probes. */
  lastPoll: number | undefined = undefined
  lastHeartbeat: number | undefined = undefined

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

  /** Pauses or resumes partitions in kafkajs. */
  control(operation: "pause" | "resume", partitions: ReadonlyArray<TP.TopicPartition>): void {
    const consumer = this.consumer
    if (consumer === undefined || partitions.length === 0) return
    try {
      consumer[operation](TP.groupByTopic(partitions))
    } catch {
      // kafkajs throws when its runner is not running (`consumer/index.js:449-453`): there
      // is nothing to pause, and the next ConsumerGroup starts unpaused.
    }
  }

  /** Forgets partitions and clears kafkajs's pause state for them, which survives rebalances. */
  release(owned: ReadonlyArray<Owned>): void {
    const partitions: Array<TP.TopicPartition> = []
    for (const o of owned) {
      const key = TP.key(o.topicPartition)
      this.owned.delete(key)
      if (this.paused.delete(key)) partitions.push(o.topicPartition)
    }
    if (partitions.length > 0) this.control("resume", partitions)
  }
}
