/**
 * Record delivery: kafkajs's `eachBatch`, handing the records of owned, unpaused partitions
 * to the listener's `onRecords`, lined up with the partition's position (`position.ts`).
 *
 * Delivery goes through the member's queue like every listener call, which is what keeps a
 * batch from arriving before its partition's `onAssigned` or after its `onRevoked` began.
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import type { EachBatchPayload } from "kafkajs"
import type { Member } from "./member.js"
import * as Position from "./position.js"
import { toRawRecord } from "./records.js"

/**
 * Hands a batch to the listener and returns: the engine applies backpressure by pausing,
 * so kafkajs's loop goes straight on to its heartbeat (`runner.js:457-458`). With
 * `autoCommit: false`, resolving only moves kafkajs's fetch position; nothing commits it
 * (`runner.js:464-474`).
 */
export const eachBatch =
  (member: Member) =>
  async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload
    const last = batch.messages[batch.messages.length - 1]
    if (last === undefined) return
    const key = TP.key(batch)
    // Not in kafkajs's types, but set on every Batch (`batch.js:10-11`).
    const fetchedOffset = Number((batch as unknown as { readonly fetchedOffset: string }).fetchedOffset)
    const lastOffset = Number(batch.lastOffset())
    const delivered = await member.serial(async () => {
      if (member.closed || !payload.isRunning() || payload.isStale()) return false
      const owned = member.owned.get(key)
      if (owned === undefined || owned.status !== "owned" || member.paused.has(key)) return false
      const decision = Position.lineUp(owned.position, fetchedOffset, lastOffset)
      if (decision._tag === "drop") return false
      if (decision.moved === "backward") {
        await member.run(
          Effect.logWarning("Sluice: kafkajs moved a partition's position backwards (offset reset)").pipe(
            Effect.annotateLogs({ partition: TP.format(owned.topicPartition), fetchedOffset })
          )
        )
      }
      const records = []
      for (const message of batch.messages) {
        if (Number(message.offset) >= decision.from) records.push(toRawRecord(batch.topic, batch.partition, message))
      }
      if (records.length > 0)
        await member.callListener(
          "onRecords",
          // The high watermark as of this fetch: the lag metrics' log end.
          member.listener.onRecords(owned.topicPartition, records, Number(batch.highWatermark))
        )
      return true
    })
    // The last filtered message maps to the batch's last offset, control records included
    // (`runner.js:276-296`), which `lineUp` counted on.
    if (delivered) payload.resolveOffset(last.offset)
  }
