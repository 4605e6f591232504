/**
 * The state one consumer group member on librdkafka keeps, shared by the rebalance handler
 * (`rebalance.ts`), delivery (`delivery.ts`) and the session (`session.ts`): what it owns,
 * what the engine paused, the records held back for a paused partition, and the lock that
 * keeps deliveries and group changes apart.
 *
 * Everything here is touched from the JavaScript thread only: the client's callbacks and the
 * member's fibers run there, so a step that does not yield is atomic.
 */
import type { GroupListener, Subscription } from "@sluice/core/ConsumerDriver"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as ConfluentConfig from "../ConfluentConfig.js"
import type { NativeConsumer, NativeMessage } from "./native.js"
import type { ConsumerOptions } from "./properties.js"
import type { Watchdog } from "./watchdog.js"

/** A partition this member was assigned and has not given up yet. */
export interface Owned {
  readonly topicPartition: TP.TopicPartition
  /**
   * `assigning` from librdkafka's assignment until the engine's `onAssigned` returned: records
   * are held, not delivered. `revoking` once its `onRevoked`/`onLost` began: commits are still
   * allowed, deliveries are not.
   */
  status: "assigning" | "owned" | "revoking"
  /** The next offset expected from librdkafka: lower ones were received already (delivered or held). */
  next: number | undefined
  /** Paused at the engine's request: nothing is delivered until it resumes. */
  paused: boolean
  /**
   * Records librdkafka handed over while the partition was paused (or before what was held
   * earlier was delivered), in offset order, and their size as `delivery.ts` counts it.
   * librdkafka resumes fetching after the last record it handed over, so these are delivered
   * on resume or the stream would have a hole.
   */
  held: Array<RawRecord>
  heldBytes: number
  /**
   * librdkafka was told to stop fetching the partition. A pause of librdkafka throws away what
   * it prefetched and fetches it again on resume, so the driver asks for it only once a paused
   * partition's held records outgrow a fetch (`maxBytesPerPartition`): an engine that pauses
   * and resumes at its buffer's edge costs no refetch.
   */
  stopped: boolean
  /**
   * The partition's high watermark as librdkafka last reported it (undefined: not known yet),
   * passed with each delivery as the lag metrics' log end (O2).
   */
  logEnd: number | undefined
  /**
   * librdkafka declared the partition lost (session expired, fenced): no commit of it may be
   * made or waited for any more (`Member.lose`).
   */
  lost: boolean
}

export class Member {
  readonly owned = new Map<string, Owned>()
  closing = false
  /**
   * Counts the member's librdkafka clients: the rejoin watchdog may replace the client
   * (`subscribe.ts`, `replaceClient`), and rebalance events of an earlier one are not the
   * engine's (`rebalance.ts`).
   */
  generation = 0
  /** The polled batch the poll loop delivers next (`delivery.ts`, `inboxDelivery`). */
  inbox: ReadonlyArray<NativeMessage> | undefined = undefined
  /**
   * Commits waiting for the broker's answer (`session.ts`), told when partitions they name are
   * lost: such a commit can no longer succeed, and waiting for it would hold the engine's
   * committer, and with it the engine's handling of the loss, for the request timeout and every
   * retry (seen in F5: 15 s and more with the cluster down).
   */
  readonly commitsInFlight = new Set<(lost: ReadonlySet<string>) => void>()
  /** When `consume` last returned (`Date.now()`), for health probes. */
  lastPoll: number | undefined = undefined

  constructor(
    /** The current librdkafka client; read it anew each time, the watchdog may replace it. */
    public consumer: NativeConsumer,
    readonly config: ConfluentConfig.Resolved,
    readonly subscription: Subscription,
    readonly options: ConsumerOptions,
    readonly listener: GroupListener,
    readonly failure: Deferred.Deferred<never, KafkaError.KafkaError>,
    /** Held by a delivery and by the start of a group change, so that neither sees half of the other. */
    readonly lock: Effect.Semaphore,
    /** The session's scope: work forked on the engine's behalf (a flush on resume) lives in it. */
    readonly scope: Scope.Scope,
    /** How long the member has been out of its group (`watchdog.ts`). */
    readonly watchdog: Watchdog
  ) {}

  /** Calls the listener; a defect there fails the session instead of breaking the client. */
  callListener(name: string, effect: Effect.Effect<void>, partitions?: number): Effect.Effect<void> {
    const traced =
      partitions === undefined
        ? effect
        : Effect.withSpan(effect, `ConfluentDriver.${name}`, { attributes: { partitions } })
    return Effect.catchAllCause(traced, (cause) =>
      Effect.zipRight(
        Effect.logError(`Sluice: the group listener's ${name} failed`, cause),
        this.fail(
          KafkaError.make({
            reason: "unknown",
            operation: `ConfluentDriver.${name}`,
            message: Cause.pretty(cause),
            cause: Cause.squash(cause)
          })
        )
      )
    )
  }

  /** Starts or stops librdkafka's fetching of `owned` (its pause and resume). */
  fetching(owned: Owned, on: boolean): void {
    if (owned.stopped !== on) return
    owned.stopped = !on
    const tp = { topic: owned.topicPartition.topic, partition: owned.topicPartition.partition }
    try {
      if (on) this.consumer.resume([tp])
      else this.consumer.pause([tp])
    } catch {
      // Disconnected: nothing is fetched any more.
    }
  }

  /**
   * Reads the high watermark librdkafka cached for `owned` from its last fetch response into
   * `owned.logEnd`: a read under librdkafka's partition lock, no broker round trip (unlike
   * `queryWatermarkOffsets`), so it is done once per partition per poll.
   */
  readLogEnd(owned: Owned): void {
    try {
      const high = this.consumer.getWatermarkOffsets(
        owned.topicPartition.topic,
        owned.topicPartition.partition
      ).highOffset
      if (high >= 0 && (owned.logEnd === undefined || high > owned.logEnd)) owned.logEnd = high
    } catch {
      // Disconnected, or librdkafka does not know the partition (yet): the log end stays as it was.
    }
  }

  /** Marks `owned` lost (before the engine hears it) and fails the commits in flight that name them. */
  lose(owned: ReadonlyArray<Owned>): void {
    const keys = new Set<string>()
    for (const o of owned) {
      o.lost = true
      keys.add(TP.key(o.topicPartition))
    }
    for (const tell of [...this.commitsInFlight]) tell(keys)
  }

  fail(error: KafkaError.KafkaError): Effect.Effect<void> {
    return Effect.asVoid(Deferred.fail(this.failure, error))
  }
}
