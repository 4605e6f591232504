/**
 * The real broker's side of the benchmarks, with plain kafkajs: topics produced once and
 * reused, and the committed offsets of a group.
 */
import { type Admin, Kafka, logLevel, type Message } from "kafkajs"
import { brokers } from "./common.js"

export const kafka = (clientId: string): Kafka =>
  new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 5 } })

export const withAdmin = async <A>(f: (admin: Admin) => Promise<A>): Promise<A> => {
  const admin = kafka("sluice-bench-admin").admin()
  await admin.connect()
  try {
    return await f(admin)
  } finally {
    await admin.disconnect()
  }
}

/** The number of records in each partition of `topic` (high watermark − low), or undefined if it does not exist. */
export const topicCounts = (admin: Admin, topic: string): Promise<Array<number> | undefined> =>
  admin.listTopics().then(async (topics) => {
    if (!topics.includes(topic)) return undefined
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high) - Number(o.low))
  })

export interface TopicSpec {
  readonly topic: string
  /** Records in each partition. */
  readonly counts: ReadonlyArray<number>
  /** The record at `offset` of `partition`. */
  readonly message: (partition: number, offset: number) => Message
}

/**
 * Makes sure `spec.topic` exists with exactly the records the spec describes: a topic of the
 * right shape is reused as it is, anything else is deleted and produced anew. Returns whether
 * it had to produce.
 */
export const ensureTopic = (spec: TopicSpec, log: (line: string) => void = () => {}): Promise<boolean> =>
  withAdmin(async (admin) => {
    const counts = await topicCounts(admin, spec.topic)
    if (sameCounts(counts, spec.counts)) {
      return false
    }
    if (counts !== undefined) {
      log(`topic ${spec.topic} has the wrong shape (${counts.join(",")}): recreating it`)
      await admin.deleteTopics({ topics: [spec.topic], timeout: 30_000 })
      // The broker forgets a deleted topic asynchronously: wait until it is gone.
      for (let i = 0; i < 100 && (await admin.listTopics()).includes(spec.topic); i++) {
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const total = spec.counts.reduce((a, b) => a + b, 0)
    log(`producing ${total.toLocaleString("en-US")} records into ${spec.topic} (${spec.counts.length} partitions)`)
    await admin.createTopics({
      topics: [{ topic: spec.topic, numPartitions: spec.counts.length, replicationFactor: 1 }],
      waitForLeaders: true
    })
    const producer = kafka("sluice-bench-producer").producer({ allowAutoTopicCreation: false, idempotent: false })
    await producer.connect()
    try {
      // Rounds of up to 2,000 records per partition, a few requests in flight.
      const chunk = 2_000
      const requests: Array<Promise<unknown>> = []
      const longest = Math.max(...spec.counts)
      for (let from = 0; from < longest; from += chunk) {
        for (let p = 0; p < spec.counts.length; p++) {
          const to = Math.min(spec.counts[p]!, from + chunk)
          if (to <= from) continue
          const messages: Array<Message> = []
          for (let o = from; o < to; o++) messages.push({ ...spec.message(p, o), partition: p })
          requests.push(producer.send({ topic: spec.topic, acks: 1, messages }))
          if (requests.length >= 8) await Promise.all(requests.splice(0))
        }
      }
      await Promise.all(requests)
    } finally {
      await producer.disconnect()
    }
    const after = await topicCounts(admin, spec.topic)
    if (!sameCounts(after, spec.counts)) {
      throw new Error(`producing ${spec.topic} left ${after?.join(",")} records per partition`)
    }
    return true
  })

const sameCounts = (actual: ReadonlyArray<number> | undefined, expected: ReadonlyArray<number>): boolean =>
  actual !== undefined && actual.length === expected.length && actual.every((c, i) => c === expected[i])

/** `total` records spread over `partitions` partitions as evenly as they go. */
export const spread = (total: number, partitions: number): Array<number> =>
  Array.from({ length: partitions }, (_, p) => Math.floor(total / partitions) + (p < total % partitions ? 1 : 0))

/** The sum over `topic`'s partitions of the group's committed offsets (none counts 0). */
export const committedTotal = (groupId: string, topic: string): Promise<number> =>
  withAdmin(async (admin) => {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] })
    let sum = 0
    for (const p of entry?.partitions ?? []) {
      const offset = Number(p.offset)
      if (offset > 0) sum += offset
    }
    return sum
  })

/** Deletes consumer groups the benchmarks made, so that they do not pile up on the broker. */
export const deleteGroups = (groupIds: ReadonlyArray<string>): Promise<void> =>
  groupIds.length === 0
    ? Promise.resolve()
    : withAdmin(async (admin) => {
        await admin.deleteGroups([...groupIds]).catch(() => undefined)
      })

/** The topic of workload 1: `records` records of 100 bytes in 12 partitions, without keys. */
export const throughputTopic = (records: number): TopicSpec => {
  const value = Buffer.alloc(100)
  for (let i = 0; i < value.length; i++) value[i] = (i * 31 + 7) & 0xff
  return {
    topic: `sluice-bench-throughput-${records}`,
    counts: spread(records, 12),
    message: () => ({ key: null, value })
  }
}

/** A topic of the keyed workload: one partition, `records` records with `keys` distinct keys. */
export const keyedTopic = (
  records: number,
  keys: number,
  keyOf: (offset: number, keys: number) => Buffer
): TopicSpec => {
  const value = Buffer.alloc(100)
  return {
    topic: `sluice-bench-keyed-${records}-${keys}`,
    counts: [records],
    message: (_, offset) => ({ key: keyOf(offset, keys), value })
  }
}

/** The topic of the revocation workload: a backlog in 12 partitions that no round exhausts. */
export const revocationTopic: TopicSpec = {
  topic: "sluice-bench-revocation",
  counts: spread(24_000, 12),
  message: () => ({ key: null, value: Buffer.alloc(100) })
}

/**
 * The topic of the cold-start workload: orders as the new user's program
 * (e2e/fixtures/new-user/src/main.ts) reads them, a few in each of 3 partitions.
 */
export const coldstartTopic: TopicSpec = {
  topic: "sluice-bench-coldstart",
  counts: spread(30, 3),
  message: (partition, offset) => {
    const id = `order-${partition}-${offset}`
    return { key: id, value: JSON.stringify({ id, amount: offset }) }
  }
}
