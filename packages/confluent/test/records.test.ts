import { describe, expect, it } from "@effect/vitest"
import { toHeaders, toRawRecord } from "../src/internal/records.js"

describe("records", () => {
  it("a consumed message keeps its bytes, repeated header keys and order", () => {
    const value = Buffer.from("v")
    const raw = toRawRecord({
      topic: "t",
      partition: 2,
      offset: 41,
      key: Buffer.from("k"),
      value,
      timestamp: 1_700_000_000_000,
      headers: [{ a: Buffer.from("1") }, { b: Buffer.from("2") }, { a: Buffer.from("3") }]
    })
    expect(raw.value).toBe(value)
    expect(raw).toMatchObject({ topic: "t", partition: 2, offset: 41, timestamp: 1_700_000_000_000 })
    expect(raw.headers.map((h) => `${h.key}=${Buffer.from(h.value!).toString()}`)).toEqual(["a=1", "b=2", "a=3"])
    expect(toRawRecord({ topic: "t", partition: 0, offset: 0, value: null }).headers).toEqual([])
  })

  it("headers to produce: Buffers over the same memory, null as empty bytes", () => {
    const bytes = new Uint8Array([1, 2, 3])
    const headers = toHeaders({
      topic: "t",
      key: null,
      value: null,
      headers: [
        { key: "x", value: bytes },
        { key: "y", value: null }
      ]
    })!
    expect(Buffer.isBuffer(headers[0]!.x)).toBe(true)
    expect((headers[0]!.x as Buffer).buffer).toBe(bytes.buffer)
    expect((headers[1]!.y as Buffer).length).toBe(0)
    expect(toHeaders({ topic: "t", key: null, value: null })).toBeUndefined()
  })
})
