/**
 * Conversions between kafkajs messages and the port's records.
 */

import type { Header, RawRecord } from "@sluice/core/ConsumerRecord"
import { noHeaders } from "@sluice/core/ConsumerRecord"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import type { IHeaders, KafkaMessage, Message } from "kafkajs"

/**
 * kafkajs decodes headers into an object and folds repeated keys into an array
 * (`protocol/recordBatch/record/v0/decoder.js:45-55`): the order of values within a key
 * survives, the interleaving of different keys does not.
 */
export const fromHeaders = (headers: IHeaders | undefined): ReadonlyArray<Header> => {
  if (headers === undefined) return noHeaders
  // `for … in` over kafkajs's plain object, not `Object.keys`: that made an array per record,
  // and most records carry no header at all.
  let out: Array<Header> | undefined
  for (const key in headers) {
    const value = headers[key]
    out ??= []
    if (Array.isArray(value)) {
      for (const v of value) out.push({ key, value: toBytes(v) })
    } else {
      out.push({ key, value: toBytes(value) })
    }
  }
  return out ?? noHeaders
}

const encoder = new TextEncoder()

const toBytes = (value: Buffer | string | null | undefined): Uint8Array | null =>
  value === null || value === undefined ? null : typeof value === "string" ? encoder.encode(value) : value

/** A fetched message as the engine sees it. Buffers are Uint8Arrays already; no copy. */
export const toRawRecord = (topic: string, partition: number, message: KafkaMessage): RawRecord => ({
  topic,
  partition,
  offset: Number(message.offset),
  key: message.key ?? null,
  value: message.value ?? null,
  headers: fromHeaders(message.headers),
  timestamp: Number(message.timestamp)
})

/**
 * kafkajs writes a `Buffer` as bytes and anything else through `String(value)`
 * (`protocol/encoder.js:209-229`): a plain `Uint8Array` would go out as "1,2,3". This views
 * the same memory as a Buffer, without copying.
 */
export const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** A record to produce as a kafkajs message. */
export const toMessage = (record: ProducerRecord): Message => {
  const message: Message = {
    key: record.key === null ? null : toBuffer(record.key),
    value: record.value === null ? null : toBuffer(record.value)
  }
  if (record.partition !== undefined) message.partition = record.partition
  if (record.timestamp !== undefined) message.timestamp = String(record.timestamp)
  if (record.headers !== undefined && record.headers.length > 0) {
    const headers: Record<string, Array<Buffer | null>> = {}
    for (const header of record.headers) {
      const values = headers[header.key] ?? []
      values.push(header.value === null ? null : toBuffer(header.value))
      headers[header.key] = values
    }
    // kafkajs encodes a null header value as -1 (`protocol/encoder.js:210-212`), although
    // its types do not say so.
    message.headers = headers as unknown as IHeaders
  }
  return message
}
