/**
 * Commits: the checks a commit passes before it is stored, and the committed offsets of
 * every group. Stricter than a broker in one respect: a member may commit only the
 * partitions it owns in the coordinator's view, which is exactly what G2 forbids breaking.
 *
 * Owns: the committed offsets (with metadata) per group and partition.
 * May touch: nothing else. It reads memberships, generations and ownership (`group.ts`),
 * the log's partitions, and asks `Faults` for an injected failure; it appends to the
 * journal's commit log and rejected commits.
 */
import type { OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import type * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import type * as MemoryKafka from "../../MemoryKafka.js"
import { kafkaError } from "./errors.js"
import type { Faults } from "./faults.js"
import type { Member } from "./group.js"
import type { Journal } from "./journal.js"
import type { Logs } from "./log.js"

export class Commits {
  /** Per group id, the committed offset of each partition (by `TopicPartition.key`). */
  private readonly byGroup = new Map<string, Map<string, MemoryKafka.CommittedOffset>>()

  constructor(
    private readonly options: MemoryKafka.Options,
    private readonly logs: Logs,
    private readonly faults: Faults,
    private readonly journal: Journal
  ) {}

  /** The committed offsets of `groupId`, by `TopicPartition.key` (undefined: nothing committed yet). */
  ofGroup(groupId: string): ReadonlyMap<string, MemoryKafka.CommittedOffset> | undefined {
    return this.byGroup.get(groupId)
  }

  /** Every group with a committed offset. */
  groupIds(): ReadonlyArray<string> {
    return Array.from(this.byGroup.keys())
  }

  /**
   * Stores offsets committed from outside the group (an admin's reset), as Kafka's commit with
   * no member id and generation -1: the caller has checked that the group has no members and
   * that the partitions exist. The commit log names no member and generation -1.
   */
  commitFromOutside(groupId: string, offsets: ReadonlyArray<OffsetAndMetadata>, now: number): void {
    this.store(groupId, { id: "", generation: -1 }, offsets, now)
  }

  /**
   * Stores offsets sent to a transaction, when it commits: the transaction checked the producer's
   * epoch; the commit log names the transactional id (`transaction:<id>`) and generation -1.
   */
  commitInTransaction(
    groupId: string,
    transactionalId: string,
    offsets: ReadonlyArray<OffsetAndMetadata>,
    now: number
  ): void {
    this.store(groupId, { id: `transaction:${transactionalId}`, generation: -1 }, offsets, now)
  }

  /** A deleted topic's committed offsets go with it. */
  forgetTopic(topic: string): void {
    for (const store of this.byGroup.values()) {
      for (const key of store.keys()) if (TP.fromKey(key).topic === topic) store.delete(key)
    }
  }

  commit(member: Member, offsets: ReadonlyArray<OffsetAndMetadata>, now: number): KafkaError.KafkaError | undefined {
    const group = member.group
    const error = this.validate(member, offsets)
    if (error !== undefined) {
      this.journal.reject(group.id, member, offsets, error, now)
      return error
    }
    this.store(group.id, member, offsets, now)
    return undefined
  }

  private store(
    groupId: string,
    committer: { readonly id: string; readonly generation: number },
    offsets: ReadonlyArray<OffsetAndMetadata>,
    now: number
  ): void {
    let store = this.byGroup.get(groupId)
    if (store === undefined) {
      store = new Map()
      this.byGroup.set(groupId, store)
    }
    for (const o of offsets) {
      const metadata = o.metadata ?? ""
      store.set(TP.key(o), { offset: o.offset, metadata })
      this.journal.accepted(groupId, committer, o, metadata, now)
    }
  }

  private validate(member: Member, offsets: ReadonlyArray<OffsetAndMetadata>): KafkaError.KafkaError | undefined {
    const group = member.group
    // A crashed process's requests never reach the coordinator.
    if (member.status === "crashed") {
      return kafkaError("commit", "connection", "the member crashed: the coordinator is unreachable", true)
    }
    const fault = this.faults.commitFault(group, member)
    if (fault !== undefined) return fault
    const consumer = this.options.protocol === "consumer"
    if (member.status !== "active" || !member.inGroup) {
      // KIP-848: the commit carries the member epoch the client still holds; a fenced member's
      // is stale (FENCED_MEMBER_EPOCH), a member that left is unknown (UNKNOWN_MEMBER_ID).
      return consumer && member.status === "expelled"
        ? kafkaError(
            "commit",
            "rebalance",
            `fenced member epoch: member ${member.id} commits with epoch ${member.generation}, but it was fenced out of group ${group.id}`
          )
        : kafkaError("commit", "rebalance", `unknown member ${member.id}: it is no longer in group ${group.id}`)
    }
    // KIP-848 has no rebalance barrier: members reconcile at their own pace, so a member's
    // epoch lags the group's while it does, and its commits (the ownership check below) go on.
    if (!consumer && member.generation !== group.generation) {
      return group.rebalancing
        ? kafkaError("commit", "rebalance", `rebalance in progress in group ${group.id}`, true)
        : kafkaError("commit", "rebalance", `illegal generation ${member.generation} (group is at ${group.generation})`)
    }
    for (const o of offsets) {
      const log = Number.isInteger(o.partition) ? this.logs.log(o.topic, o.partition) : undefined
      if (log === undefined) return kafkaError("commit", "protocol", `unknown partition ${TP.format(o)}`)
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        return kafkaError("commit", "protocol", `invalid offset ${o.offset} for ${TP.format(o)}`)
      }
      const max = this.options.maxMetadataBytes
      // A UTF-16 unit is at most 3 UTF-8 bytes: most metadata never needs measuring.
      if (o.metadata !== undefined && o.metadata.length * 3 > max && Buffer.byteLength(o.metadata, "utf8") > max) {
        return kafkaError("commit", "commit", `offset metadata of ${TP.format(o)} exceeds ${max} bytes`)
      }
      // Stricter than the broker, which checks only member and generation: a partition
      // committed by a member that does not own it is exactly what G2 forbids.
      if (group.owners.get(TP.key(o))?.member !== member) {
        return kafkaError("commit", "rebalance", `${TP.format(o)} is not owned by member ${member.id}`)
      }
    }
    return undefined
  }
}
