/**
 * Partition assignors of the simulated cluster, after Kafka's own: `range` (per topic,
 * contiguous ranges, the Java client's default), `roundRobin` (all partitions dealt in turn)
 * and `sticky` (balanced per topic, keeping every partition where it is when it can: with
 * the cooperative protocol this is what makes a rebalance move only a few partitions).
 *
 * Members are ordered by member id, as Kafka's assignors do. Member ids come from the
 * cluster's seeded generator, so that order (every tie-break) follows the seed.
 */
import * as TP from "@sluice/core/TopicPartition"

export type AssignorName = "range" | "roundRobin" | "sticky"

export interface AssignorMember {
  readonly id: string
  readonly topics: ReadonlyArray<string>
  /** What the member owns now; only `sticky` looks at it. */
  readonly owned: ReadonlyArray<TP.TopicPartition>
}

/** Partitions per member id, each list sorted by topic then partition. */
export type Assignment = Map<string, Array<TP.TopicPartition>>

/** Orders members by id, as Kafka's assignors do. */
export const byId = (a: { readonly id: string }, b: { readonly id: string }): number =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : 0

export const assign = (
  name: AssignorName,
  members: ReadonlyArray<AssignorMember>,
  partitions: ReadonlyMap<string, number>
): Assignment => {
  const sorted = [...members].sort(byId)
  const result: Assignment = new Map(sorted.map((m) => [m.id, []]))
  const topics = [...new Set(sorted.flatMap((m) => m.topics))].filter((t) => partitions.has(t)).sort()
  switch (name) {
    case "range":
      for (const topic of topics) range(topic, partitions.get(topic)!, subscribers(sorted, topic), result)
      break
    case "roundRobin":
      roundRobin(topics, partitions, sorted, result)
      break
    case "sticky":
      for (const topic of topics) sticky(topic, partitions.get(topic)!, subscribers(sorted, topic), result)
      break
  }
  for (const list of result.values()) list.sort(TP.order)
  return result
}

const subscribers = (members: ReadonlyArray<AssignorMember>, topic: string) =>
  members.filter((m) => m.topics.includes(topic))

const range = (topic: string, count: number, members: ReadonlyArray<AssignorMember>, result: Assignment) => {
  if (members.length === 0) return
  const base = Math.floor(count / members.length)
  const extra = count % members.length
  let partition = 0
  members.forEach((member, i) => {
    const list = result.get(member.id)!
    for (let n = base + (i < extra ? 1 : 0); n > 0; n--) list.push({ topic, partition: partition++ })
  })
}

const roundRobin = (
  topics: ReadonlyArray<string>,
  partitions: ReadonlyMap<string, number>,
  members: ReadonlyArray<AssignorMember>,
  result: Assignment
) => {
  if (members.length === 0) return
  let next = 0
  for (const topic of topics) {
    const count = partitions.get(topic)!
    for (let partition = 0; partition < count; partition++) {
      for (let k = 0; k < members.length; k++) {
        const index = (next + k) % members.length
        const member = members[index]!
        if (!member.topics.includes(topic)) continue
        result.get(member.id)!.push({ topic, partition })
        next = (index + 1) % members.length
        break
      }
    }
  }
}

const sticky = (topic: string, count: number, members: ReadonlyArray<AssignorMember>, result: Assignment) => {
  if (members.length === 0) return
  const base = Math.floor(count / members.length)
  const extra = count % members.length
  const owned = new Map(
    members.map((m) => [
      m.id,
      m.owned
        .filter((tp) => tp.topic === topic && tp.partition < count)
        .map((tp) => tp.partition)
        .sort((a, b) => a - b)
    ])
  )
  // The extra slots go to those that already hold the most, so fewer partitions move.
  const byHolding = [...members].sort((a, b) => owned.get(b.id)!.length - owned.get(a.id)!.length)
  const quota = new Map(byHolding.map((m, rank) => [m.id, base + (rank < extra ? 1 : 0)]))
  const taken = new Set<number>()
  const counts = new Map<string, number>()
  for (const member of members) {
    const keep = owned
      .get(member.id)!
      .filter((p) => !taken.has(p))
      .slice(0, quota.get(member.id)!)
    for (const partition of keep) {
      taken.add(partition)
      result.get(member.id)!.push({ topic, partition })
    }
    counts.set(member.id, keep.length)
  }
  let free = 0
  for (const member of members) {
    const list = result.get(member.id)!
    for (let n = counts.get(member.id)!; n < quota.get(member.id)!; n++) {
      while (taken.has(free)) free++
      taken.add(free)
      list.push({ topic, partition: free })
    }
  }
}
