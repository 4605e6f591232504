/**
 * The engine's side of an external offset store (`OffsetStore.ts`, G10): it claims newly
 * assigned partitions from the store and tells the driver to start them at the stored
 * positions (the listener's `positions`), hands each worker its claim (`owner`), and keeps
 * records from before a stored position away from the engine (`deliverable`), whatever a
 * driver fetched before it could move.
 *
 * Owns the claims between the driver's `positions` and the `onAssigned` that follows it, and
 * the position each claimed partition starts at. Touches nothing of the engine's.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { PartitionAssignment } from "../ConsumerDriver.js"
import type { RawRecord } from "../ConsumerRecord.js"
import * as KafkaError from "../KafkaError.js"
import * as OffsetStore from "../OffsetStore.js"
import * as TP from "../TopicPartition.js"

export class StoreClaims {
  /** Claims made by `positions`, taken by the engine's assignment that follows. */
  private readonly claims = new Map<string, OffsetStore.Claim>()
  /** Where each claimed partition starts: records below it were handled by an earlier owner. */
  private readonly starts = new Map<string, number>()

  constructor(
    private readonly store: OffsetStore.Service,
    private readonly groupId: string,
    /** Failing it stops the consumer: a store that cannot be claimed from stops it with its error. */
    private readonly fatal: Deferred.Deferred<never, unknown>
  ) {}

  /**
   * Claims the partitions not owned yet and returns the assignments starting at the stored
   * positions (the group's committed offset where the store has none). A claim that fails
   * stops the consumer with the store's error; the driver gets a `KafkaError` wrapping it.
   */
  positions(
    assignments: ReadonlyArray<PartitionAssignment>,
    owned: (key: string) => boolean
  ): Effect.Effect<ReadonlyArray<PartitionAssignment>, KafkaError.KafkaError> {
    const fresh = assignments.filter((a) => !owned(TP.key(a.topicPartition)))
    if (fresh.length === 0) return Effect.succeed(assignments)
    return this.store
      .claim(
        this.groupId,
        fresh.map((a) => a.topicPartition)
      )
      .pipe(
        Effect.map((claims) => {
          const byKey = new Map<string, OffsetStore.Claim>()
          for (const claim of claims) byKey.set(TP.key(claim.topicPartition), claim)
          return assignments.map((assignment) => {
            const key = TP.key(assignment.topicPartition)
            const claim = byKey.get(key)
            if (claim === undefined) return assignment
            this.claims.set(key, claim)
            if (claim.position === undefined) {
              this.starts.delete(key)
              return assignment
            }
            this.starts.set(key, claim.position.offset)
            return { topicPartition: assignment.topicPartition, committed: claim.position }
          })
        }),
        Effect.tapError((error) => Deferred.done(this.fatal, Exit.fail(error))),
        Effect.mapError((error) =>
          KafkaError.make({
            reason: "unknown",
            operation: "OffsetStore.claim",
            message: error.message,
            cause: error
          })
        ),
        Effect.withSpan("OffsetStore.claim", { attributes: { partitions: fresh.length } })
      )
  }

  /** The claim of a partition being assigned, or `undefined` when the driver did not ask for positions. */
  take(key: string): OffsetStore.Claim | undefined {
    const claim = this.claims.get(key)
    this.claims.delete(key)
    return claim
  }

  /** The records of `tp` at or past where its claim starts (the array itself when all are). */
  deliverable(tp: TP.TopicPartition, records: ReadonlyArray<RawRecord>): ReadonlyArray<RawRecord> {
    if (records.length === 0) return records
    const start = this.starts.get(TP.key(tp))
    if (start === undefined || records[0]!.offset >= start) return records
    return records.filter((record) => record.offset >= start)
  }
}

/** The error the engine stops with when a driver assigned a partition without asking for its position. */
export const unclaimed = (tp: TP.TopicPartition): OffsetStore.OffsetStoreError =>
  OffsetStore.error({
    reason: "unclaimed",
    operation: "OffsetStore.claim",
    message: `${TP.format(tp)} was assigned without a claim: the driver does not ask for positions (GroupListener.positions), so it cannot start partitions where the store says`
  })
