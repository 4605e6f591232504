import { describe, expect, it } from "@effect/vitest"
import { noHeaders } from "@sluice/core/ConsumerRecord"
import { fromHeaders, toMessage, toRawRecord } from "../src/internal/records.js"

describe("records", () => {
  it("a fetched message becomes a RawRecord without copying its bytes", () => {
    const key = Buffer.from("k")
    const value = Buffer.from("v")
    const raw = toRawRecord("t", 3, {
      key,
      value,
      offset: "9007199254740991",
      timestamp: "1700000000000",
      attributes: 0,
      headers: { a: Buffer.from("1"), b: [Buffer.from("2"), Buffer.from("3")] }
    })
    expect(raw).toMatchObject({ topic: "t", partition: 3, offset: Number.MAX_SAFE_INTEGER, timestamp: 1700000000000 })
    expect(raw.key).toBe(key)
    expect(raw.value).toBe(value)
    expect(raw.headers.map((h) => [h.key, h.value === null ? null : Buffer.from(h.value).toString()])).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["b", "3"]
    ])
  })

  it("headers: none, null values, strings", () => {
    expect(fromHeaders(undefined)).toBe(noHeaders)
    // A record without headers gets the shared empty list, not an array of its own.
    expect(fromHeaders({})).toBe(noHeaders)
    const headers = fromHeaders({ n: null as never, s: "x" })
    expect(headers[0]).toEqual({ key: "n", value: null })
    expect(Buffer.from(headers[1]!.value!).toString()).toBe("x")
  })

  it("a record to produce: Uint8Arrays become Buffers over the same memory, headers group by key", () => {
    const bytes = new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 4)
    const message = toMessage({
      topic: "t",
      key: bytes,
      value: null,
      partition: 2,
      timestamp: 5,
      headers: [
        { key: "h", value: new Uint8Array([7]) },
        { key: "h", value: null },
        { key: "i", value: new Uint8Array([8]) }
      ]
    })
    expect(Buffer.isBuffer(message.key)).toBe(true)
    expect([...(message.key as Buffer)]).toEqual([1, 2, 3])
    expect((message.key as Buffer).buffer).toBe(bytes.buffer)
    expect(message.value).toBeNull()
    expect(message.partition).toBe(2)
    expect(message.timestamp).toBe("5")
    expect(message.headers).toEqual({ h: [Buffer.from([7]), null], i: [Buffer.from([8])] })
  })
})
