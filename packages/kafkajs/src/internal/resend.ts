/**
 * Sends records until every one of them is acknowledged with an offset.
 *
 * kafkajs 2.2.4 can answer a `sendBatch` with success while some of its records were never
 * sent: `producer/sendMessages.js` keeps the responses of a retried send per *broker*
 * (`responsePerBroker`) and on a retry sends only to brokers without a response yet. When a
 * leader dies mid-send, its partitions move to a broker that already answered for other
 * partitions, so the retry skips them and the promise resolves without an acknowledgement for
 * them (seen in the failover test F2 on a three-broker cluster: a record acknowledged at
 * offset -1, never in the topic). The failed attempt gave their sequence numbers back
 * (`eosManager.updateSequence(…, -n)`), so sending them again is safe with idempotence: the
 * broker either appends them or recognises a batch it already has.
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */

import * as KafkaError from "@sluice/core/KafkaError"
import type { RecordMetadata } from "@sluice/core/ProducerDriver"
import * as Effect from "effect/Effect"

/** How many times records without an acknowledgement are sent again before the send fails. */
const attempts = 5

/**
 * `sendOnce` until each record has an offset, merged in the records' order. `sendOnce` gives
 * one metadata per record, offset -1 for a record kafkajs did not acknowledge.
 */
export const untilAcknowledged = <R, E>(
  records: ReadonlyArray<R>,
  sendOnce: (records: ReadonlyArray<R>) => Effect.Effect<ReadonlyArray<RecordMetadata>, E>
): Effect.Effect<ReadonlyArray<RecordMetadata>, E | KafkaError.KafkaError> =>
  Effect.gen(function* () {
    const out: Array<RecordMetadata | undefined> = records.map(() => undefined)
    let pending = records.map((_, i) => i)
    for (let attempt = 0; attempt <= attempts && pending.length > 0; attempt++) {
      if (attempt > 0) {
        yield* Effect.logWarning(
          `Sluice: kafkajs acknowledged a send without ${pending.length} of its records (a leader moved during its retry); sending them again`
        )
      }
      const metadata = yield* sendOnce(pending.map((i) => records[i]!))
      const next: Array<number> = []
      pending.forEach((index, i) => {
        const meta = metadata[i]
        if (meta !== undefined && meta.offset >= 0) out[index] = meta
        else next.push(index)
      })
      pending = next
    }
    if (pending.length > 0) {
      return yield* Effect.fail(
        KafkaError.make({
          reason: "unknown",
          operation: "KafkaJsProducer.send",
          message: `kafkajs did not acknowledge ${pending.length} record(s) after ${attempts + 1} sends`
        })
      )
    }
    return out as ReadonlyArray<RecordMetadata>
  })
