/**
 * Record delivery: the member's poll loop on the client's native `consume(n)`, and the
 * hand-over of each owned, unpaused partition's records to the listener's `onRecords`.
 *
 * One fiber polls, one batch at a time, for the whole session: librdkafka serves rebalances
 * and commit results only from inside `consume` (they come back through callbacks), and a
 * member that stops polling for `max.poll.interval.ms` leaves the group. The loop therefore
 * never waits on the engine: `onRecords` returns at once, and the engine's backpressure is a
 * pause.
 *
 * A pause in librdkafka drops what it fetched but did not hand over yet and fetches again from
 * after the last record it handed over (`rdkafka_partition.c`, `rd_kafka_toppar_pause_resume`).
 * So every record `consume` returned is either delivered or held (`Owned.held`) until the
 * engine resumes the partition, and librdkafka is paused only once the held records outgrow a
 * fetch (`Owned.stopped`); a record below `Owned.next` is one received already (a pause racing
 * the poll) and is dropped.
 */
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import { codeOf, codes, isFatal, toKafkaError } from "../ConfluentError.js"
import type { Member, Owned } from "./member.js"
import type { NativeMessage } from "./native.js"
import { toRawRecord } from "./records.js"

/**
 * What a record takes of a fetch: its key, value and headers, and 70 bytes for its framing and
 * the header of a batch it may be alone in. An estimate on the large side, so that a slice is
 * never bigger than a fetch of `maxBytesPerPartition` could be.
 */
const size = (record: RawRecord): number => {
  let bytes = 70 + (record.value?.byteLength ?? 0) + (record.key?.byteLength ?? 0)
  // An index loop: `for … of` made an iterator per record here (70 MB per million records).
  const headers = record.headers
  for (let i = 0; i < headers.length; i++) bytes += headers[i]!.key.length + (headers[i]!.value?.byteLength ?? 0)
  return bytes
}

/**
 * Hands `records` (one partition's, in offset order) to the listener in slices of at most
 * `maxBytesPerPartition` (at least one record each): the engine pauses after the slice that
 * filled its buffer, and what is left is held. So the buffer overshoots by one slice at most,
 * as with a fetch of that size. Call with the member's lock held.
 */
export const handOver = (member: Member, owned: Owned, records: ReadonlyArray<RawRecord>): Effect.Effect<void> =>
  Effect.suspend(() => handOverFrom(member, owned, records, 0))

/**
 * `handOver` from `records[from]` on. A chain of effects, not `Effect.gen`: a generator per
 * delivery kept its records alive through young collections, so every batch was promoted and
 * died in the old generation (the driver alone, a listener that only counts: 1.2–2.9 MB promoted
 * per young collection and a peak RSS of 301–309 MB with a generator, 0.02 MB and 225–247 MB
 * without; `docs/benchmarks.md`, workload 1 over librdkafka).
 */
const handOverFrom = (
  member: Member,
  owned: Owned,
  records: ReadonlyArray<RawRecord>,
  from: number
): Effect.Effect<void> => {
  const limit = member.subscription.maxBytesPerPartition
  if (from < records.length && owned.status === "owned" && !owned.paused && owned.held.length === 0) {
    let to = from + 1
    let bytes = size(records[from]!)
    while (to < records.length) {
      const next = size(records[to]!)
      if (bytes + next > limit) break
      bytes += next
      to++
    }
    const slice = from === 0 && to === records.length ? records : records.slice(from, to)
    // The high watermark as of the poll that fetched them: the lag metrics' log end.
    return Effect.flatMap(
      member.callListener("onRecords", member.listener.onRecords(owned.topicPartition, slice, owned.logEnd)),
      () => handOverFrom(member, owned, records, to)
    )
  }
  if (owned.status === "revoking" || from === records.length) return Effect.void
  for (let i = from; i < records.length; i++) {
    owned.held.push(records[i]!)
    owned.heldBytes += size(records[i]!)
  }
  if ((owned.paused || owned.status === "assigning") && owned.heldBytes > limit) member.fetching(owned, false)
  return Effect.void
}

/**
 * Delivers the records held for partitions that may take them again (resumed, or assigned to
 * the engine), and lets librdkafka fetch each again once all its held records went. Call with
 * the member's lock held.
 */
export const flushHeld = (member: Member, owned: ReadonlyArray<Owned>): Effect.Effect<void> =>
  Effect.forEach(
    owned,
    (o) =>
      Effect.suspend(() => {
        const held = o.held
        o.held = []
        o.heldBytes = 0
        return handOver(member, o, held)
      }).pipe(
        Effect.zipRight(
          Effect.sync(() => {
            if (o.status === "owned" && !o.paused && o.held.length === 0) member.fetching(o, true)
          })
        )
      ),
    { discard: true }
  )

/**
 * Forgets the records held for `owned` below `offset` (its committed offset, once known: they
 * were finished by an earlier owner) and expects nothing below it from librdkafka.
 */
export const startAt = (owned: Owned, offset: number): void => {
  if (owned.held.some((r) => r.offset < offset)) {
    owned.held = owned.held.filter((r) => r.offset >= offset)
    owned.heldBytes = owned.held.reduce((bytes, r) => bytes + size(r), 0)
  }
  if (owned.next === undefined || owned.next < offset) owned.next = offset
}

/** Takes polled records of one partition: drops those received already, hands the rest over. */
const receive = (member: Member, owned: Owned, records: ReadonlyArray<RawRecord>): Effect.Effect<void> => {
  let from = 0
  // Received already (a pause raced the poll): librdkafka hands them over again.
  while (from < records.length && owned.next !== undefined && records[from]!.offset < owned.next) from++
  if (from === records.length) return Effect.void
  owned.next = records[records.length - 1]!.offset + 1
  member.readLogEnd(owned)
  return handOver(member, owned, from === 0 ? records : records.slice(from))
}

/** Splits a polled batch by partition (each in offset order) and delivers each part. */
const deliverBatch = (member: Member, messages: ReadonlyArray<NativeMessage>): Effect.Effect<void> => {
  const parts = new Map<Owned, Array<RawRecord>>()
  // librdkafka hands over a partition's records in runs: one lookup per run, not per record.
  let topic: string | undefined
  let partition = -1
  let part: Array<RawRecord> | undefined
  for (const message of messages) {
    if (message.partition !== partition || message.topic !== topic) {
      topic = message.topic
      partition = message.partition
      const owned = member.owned.get(TP.key(message))
      // Records of a partition leaving (or left) are dropped: its next owner fetches them
      // again from the committed offset. Those of a partition being assigned are held.
      if (owned === undefined || owned.status === "revoking") part = undefined
      else {
        topic = owned.topicPartition.topic
        part = parts.get(owned)
        if (part === undefined) {
          part = []
          parts.set(owned, part)
        }
      }
    }
    if (part !== undefined) part.push(toRawRecord(message, topic))
  }
  return Effect.forEach(parts, ([owned, records]) => receive(member, owned, records), { discard: true })
}

/**
 * Delivers the batch in `member.inbox` under the member's lock; made once per session, so
 * that nothing it captures is a batch. `withPermits` runs its effect in an uninterruptible
 * region, and the runtime's frame that restores interruptibility points at that effect. V8
 * allocates such frames straight into the old generation once many survived (allocation-site
 * pretenuring), and old garbage keeps what it points at alive through young collections: with
 * the batch captured there, batches (1,000 messages, their buffers and records) were copied and
 * promoted instead of dying young. On the broker throughput workload (a million records) the
 * young collections took 0.62–0.70 s with the capture and 0.52–0.54 s without.
 */
const inboxDelivery = (member: Member): Effect.Effect<void> =>
  member.lock.withPermits(1)(
    Effect.suspend(() => {
      const messages = member.inbox
      member.inbox = undefined
      return messages === undefined ? Effect.void : deliverBatch(member, messages)
    })
  )

const poll = (member: Member): Effect.Effect<ReadonlyArray<NativeMessage>, unknown> =>
  Effect.async((resume) => {
    try {
      member.consumer.consume(member.options.batchSize, (error, messages) => {
        if (error) resume(Effect.fail(error))
        else resume(Effect.succeed(messages))
      })
    } catch (error) {
      resume(Effect.fail(error))
    }
  })

/**
 * Polls and delivers until the member closes. A poll error is logged and polling goes on
 * (librdkafka recovers from transient ones by itself), except a fatal one, which fails the
 * session.
 */
export const pollLoop = (member: Member): Effect.Effect<void> =>
  Effect.gen(function* () {
    const deliver = inboxDelivery(member)
    while (!member.closing) {
      // The batch goes straight to the inbox: a local here would hold it through the next poll.
      const failed = yield* Effect.match(poll(member), {
        onFailure: (error) => ({ error }),
        onSuccess: (messages) => {
          member.lastPoll = Date.now()
          if (messages.length > 0) member.inbox = messages
          return undefined
        }
      })
      if (failed === undefined) {
        if (member.inbox !== undefined) yield* deliver
        continue
      }
      if (member.closing) return
      const error = failed.error
      if (isFatal(error)) {
        yield* member.fail(toKafkaError(error, "ConfluentDriver.consume"))
        return
      }
      if (codeOf(error) === codes.maxPollExceeded) {
        yield* Effect.logWarning("Sluice: librdkafka left the group: the poll loop was late (max.poll.interval.ms)")
      } else {
        yield* Effect.logWarning("Sluice: librdkafka reported an error while polling", error)
      }
      // An error comes back at once; do not spin on it.
      yield* Effect.sleep(member.options.pollTimeout)
    }
  }).pipe(Effect.withSpan("ConfluentDriver.poll"))
