/**
 * The cluster's history, for assertions and traces: group events, accepted and rejected
 * commits, and every ownership of a partition. One sequence numbers the entries of all four,
 * so a test can order them against each other.
 *
 * Owns: the sequence and the four lists. Entries are appended, never removed; an ownership
 * entry stays mutable until its ownership ends (`group.ts` closes it).
 * May touch: nothing else.
 */
import type { OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import type * as KafkaError from "@sluice/core/KafkaError"
import type * as TP from "@sluice/core/TopicPartition"
import type * as MemoryKafka from "../../MemoryKafka.js"

/** An ownership entry while it is open: `until` and `end` are set when it ends. */
export type OpenOwnership = { -readonly [K in keyof MemoryKafka.OwnershipEntry]: MemoryKafka.OwnershipEntry[K] }

/** What the journal needs of a group and a member: their names and the group's generation. */
interface GroupRef {
  readonly id: string
  readonly generation: number
}

interface MemberRef {
  readonly id: string
}

/** A member as a commit names it: its id and the generation it commits in. */
interface Committer extends MemberRef {
  readonly generation: number
}

export class Journal {
  private seq = 0
  readonly commitLog: Array<MemoryKafka.CommitLogEntry> = []
  readonly rejected: Array<MemoryKafka.RejectedCommit> = []
  readonly ownership: Array<OpenOwnership> = []
  readonly events: Array<MemoryKafka.GroupEvent> = []

  event(
    group: GroupRef,
    type: MemoryKafka.GroupEventType,
    now: number,
    member?: MemberRef,
    partitions?: ReadonlyArray<TP.TopicPartition>,
    detail?: string
  ): void {
    this.events.push({
      seq: ++this.seq,
      time: now,
      groupId: group.id,
      type,
      generation: group.generation,
      memberId: member?.id,
      partitions,
      detail
    })
  }

  /** What an entry of a commit starts with: its number, its time and who committed. */
  private commitEntry(groupId: string, member: Committer, now: number) {
    return { seq: ++this.seq, time: now, groupId, memberId: member.id, generation: member.generation }
  }

  accepted(groupId: string, member: Committer, offset: OffsetAndMetadata, metadata: string, now: number): void {
    this.commitLog.push({
      ...this.commitEntry(groupId, member, now),
      topic: offset.topic,
      partition: offset.partition,
      offset: offset.offset,
      metadata
    })
  }

  reject(
    groupId: string,
    member: Committer,
    offsets: ReadonlyArray<OffsetAndMetadata>,
    error: KafkaError.KafkaError,
    now: number
  ): void {
    this.rejected.push({
      ...this.commitEntry(groupId, member, now),
      offsets: offsets.slice(),
      error
    })
  }

  /** Opens an ownership of `tp` by `memberId` from `now`. */
  own(groupId: string, tp: TP.TopicPartition, memberId: string, generation: number, now: number): OpenOwnership {
    const entry: OpenOwnership = {
      seq: ++this.seq,
      groupId,
      topic: tp.topic,
      partition: tp.partition,
      memberId,
      generation,
      from: now,
      until: undefined,
      end: undefined
    }
    this.ownership.push(entry)
    return entry
  }
}
