/**
 * The keyed processor's busy keys: found by hash and bytes, keys of one hash chained (G5
 * depends on a key never being taken for another).
 */
import { describe, expect, it } from "@effect/vitest"
import type { RawRecord } from "../src/ConsumerRecord.js"
import { BusyKeys, hashOf } from "../src/internal/processors/busyKeys.js"

const bytes = (text: string) => new TextEncoder().encode(text)

describe("busy keys (G5)", () => {
  it("G5 a key is found by its bytes, never by another key's", () => {
    const busy = new BusyKeys()
    const a = busy.add(bytes("order-1"), hashOf(bytes("order-1")))
    expect(busy.find(bytes("order-1"), hashOf(bytes("order-1")))).toBe(a)
    expect(busy.find(bytes("order-2"), hashOf(bytes("order-2")))).toBeUndefined()
    expect(busy.find(bytes("order-"), hashOf(bytes("order-")))).toBeUndefined()
    busy.remove(a)
    expect(busy.find(bytes("order-1"), hashOf(bytes("order-1")))).toBeUndefined()
  })

  it("G5 keys of one hash stay apart, and each can leave in any order", () => {
    const busy = new BusyKeys()
    // The same hash for three keys: the chain, whatever FNV would say.
    const keys = ["a", "b", "c"].map((k) => busy.add(bytes(k), 7))
    for (const [i, k] of ["a", "b", "c"].entries()) expect(busy.find(bytes(k), 7)).toBe(keys[i])
    busy.remove(keys[1]!)
    expect(busy.find(bytes("b"), 7)).toBeUndefined()
    expect(busy.find(bytes("a"), 7)).toBe(keys[0])
    expect(busy.find(bytes("c"), 7)).toBe(keys[2])
    busy.remove(keys[2]!)
    expect(busy.find(bytes("a"), 7)).toBe(keys[0])
    busy.remove(keys[0]!)
    expect(busy.find(bytes("a"), 7)).toBeUndefined()
  })

  it("G5 clear counts the records still waiting for their keys", () => {
    const busy = new BusyKeys()
    const record = { offset: 1 } as RawRecord
    const a = busy.add(bytes("a"), 1)
    const b = busy.add(bytes("b"), 1)
    a.waiting = [record, record]
    b.waiting = [record]
    busy.add(bytes("c"), 2)
    expect(busy.clear()).toBe(3)
    expect(busy.find(bytes("a"), 1)).toBeUndefined()
  })

  it("G5 a freed key is kept idle and taken again for its next record; never found busy while idle", () => {
    const busy = new BusyKeys()
    const view = bytes("xxorder-1yy").subarray(2, 9)
    const a = busy.add(view, hashOf(view))
    // Copied: a record's key may be a view of a whole fetch, which an idle key must not keep.
    expect(a.bytes.buffer).not.toBe(view.buffer)
    busy.remove(a)
    expect(busy.find(bytes("order-1"), hashOf(bytes("order-1")))).toBeUndefined()
    const idle = busy.entry(bytes("order-1"), hashOf(bytes("order-1")))
    expect(idle).toBe(a)
    expect(idle?.busy).toBe(false)
    expect(busy.add(bytes("order-1"), hashOf(bytes("order-1")), idle)).toBe(a)
    expect(busy.find(bytes("order-1"), hashOf(bytes("order-1")))).toBe(a)
  })

  it("G5 idle keys are bounded: past 1,024 a freed key is forgotten", () => {
    const busy = new BusyKeys()
    const keys = Array.from({ length: 1100 }, (_, i) => busy.add(bytes(`k${i}`), hashOf(bytes(`k${i}`))))
    for (const key of keys) busy.remove(key)
    const kept = keys.filter((_, i) => busy.entry(bytes(`k${i}`), hashOf(bytes(`k${i}`))) !== undefined)
    expect(kept.length).toBe(1024)
    // Taking idle ones makes room again.
    busy.add(bytes("k0"), hashOf(bytes("k0")))
    const fresh = busy.add(bytes("new"), hashOf(bytes("new")))
    busy.remove(fresh)
    expect(busy.entry(bytes("new"), hashOf(bytes("new")))).toBe(fresh)
  })

  it("hashOf is FNV-1a (32 bits)", () => {
    expect(hashOf(new Uint8Array())).toBe(0x811c9dc5 | 0)
    expect(hashOf(bytes("a")) >>> 0).toBe(0xe40c292c)
  })
})
