/**
 * Conversions between the client's messages and the port's records.
 *
 * The client carries a header as an object with one key, its value as bytes (`src/common.cc:764-780`
 * when consuming, `src/producer.cc:570-613` when producing). It cannot express a null header
 * value: producing one is refused, and librdkafka's null comes back as empty bytes. So a null
 * header value is produced as empty bytes, and empty bytes are read as empty bytes.
 */

import type { Header, RawRecord } from "@sluice/core/ConsumerRecord"
import { noHeaders } from "@sluice/core/ConsumerRecord"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import type { NativeHeader, NativeMessage } from "./native.js"

const encoder = new TextEncoder()

const toBytes = (value: Buffer | string | null | undefined): Uint8Array | null =>
  value === null || value === undefined ? null : typeof value === "string" ? encoder.encode(value) : value

const fromHeaders = (headers: ReadonlyArray<NativeHeader> | undefined): ReadonlyArray<Header> => {
  if (headers === undefined || headers.length === 0) return noHeaders
  const out: Array<Header> = []
  for (const header of headers) {
    for (const key in header) out.push({ key, value: toBytes(header[key]) })
  }
  return out
}

/**
 * A consumed message as the engine sees it. Buffers are Uint8Arrays already; no copy. `topic`
 * is the same name as the message's: the client makes a new string for every message, and a
 * record waiting in a buffer keeps it alive, so the driver passes the one it holds instead.
 */
export const toRawRecord = (message: NativeMessage, topic: string = message.topic): RawRecord => ({
  topic,
  partition: message.partition,
  offset: message.offset,
  key: toBytes(message.key),
  value: message.value,
  headers: fromHeaders(message.headers),
  timestamp: message.timestamp ?? -1
})

/** A view of the same memory as a Buffer, which is what the client sends as bytes. */
export const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const empty = Buffer.alloc(0)

/** A record's headers as the client's `produce` takes them. */
export const toHeaders = (record: ProducerRecord): ReadonlyArray<NativeHeader> | undefined =>
  record.headers === undefined || record.headers.length === 0
    ? undefined
    : record.headers.map((header) => ({ [header.key]: header.value === null ? empty : toBuffer(header.value) }))
