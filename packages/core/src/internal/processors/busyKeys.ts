/**
 * The keys of a partition with a record in flight (keyed mode), and the records of each that
 * wait for it, oldest first.
 *
 * Keys are found by a 32-bit FNV-1a hash of their bytes, then compared byte for byte (keys of
 * one hash are chained). Turning every record's key into a string for a `Map` cost 300–500 ns
 * a record (the string, then its hash), as much as the rest of the keyed processor's work; the
 * hash and the comparison cost a few nanoseconds a byte.
 */
import type { RawRecord } from "../../ConsumerRecord.js"

/**
 * A key of the partition: busy while a record of it is in flight, idle (kept for its next
 * record) otherwise.
 */
export class BusyKey {
  /** A record of this key is in flight. */
  busy = false
  /** Records of this key taken from the buffer and waiting for it, oldest first. */
  waiting: Array<RawRecord> | undefined = undefined
  /** The next key of the same hash. */
  next: BusyKey | undefined = undefined
  constructor(
    readonly bytes: Uint8Array,
    readonly hash: number
  ) {}
}

/** FNV-1a, 32 bits. */
export const hashOf = (bytes: Uint8Array): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!
    hash = Math.imul(hash, 0x01000193)
  }
  return hash | 0
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Idle keys kept for their next record: making a key and deleting it from the `Map` again for
 * every record cost a fifth of the keyed processor's time (bench workload 2). Bounded, so that
 * a partition of ever new keys keeps only busy ones and this many idle; small ones only, and
 * copied: a record's key is often a view of the whole fetch response it came in.
 */
const maxIdle = 1024
const maxIdleBytes = 256

export class BusyKeys {
  private readonly byHash = new Map<number, BusyKey>()
  private idle = 0

  /** The busy key with these bytes, if it is busy. */
  find(bytes: Uint8Array, hash: number): BusyKey | undefined {
    const key = this.entry(bytes, hash)
    return key?.busy === true ? key : undefined
  }

  /** The key with these bytes, busy or idle, if it is known. */
  entry(bytes: Uint8Array, hash: number): BusyKey | undefined {
    for (let key = this.byHash.get(hash); key !== undefined; key = key.next) {
      if (sameBytes(key.bytes, bytes)) return key
    }
    return undefined
  }

  /** Marks these bytes busy (they are not): their idle key, or a new one. */
  add(bytes: Uint8Array, hash: number, known: BusyKey | undefined = this.entry(bytes, hash)): BusyKey {
    if (known !== undefined) {
      known.busy = true
      this.idle--
      return known
    }
    const key = new BusyKey(bytes.byteLength <= maxIdleBytes ? Uint8Array.prototype.slice.call(bytes) : bytes, hash)
    key.busy = true
    key.next = this.byHash.get(hash)
    this.byHash.set(hash, key)
    return key
  }

  /** `key` is free: nothing of it is in flight or waiting. Kept idle while few are. */
  remove(key: BusyKey): void {
    key.busy = false
    if (this.idle < maxIdle && key.bytes.byteLength <= maxIdleBytes) {
      this.idle++
      return
    }
    const first = this.byHash.get(key.hash)
    if (first === key) {
      if (key.next === undefined) this.byHash.delete(key.hash)
      else this.byHash.set(key.hash, key.next)
      return
    }
    for (let before = first; before !== undefined; before = before.next) {
      if (before.next === key) {
        before.next = key.next
        return
      }
    }
  }

  /** Forgets every key; returns how many records were waiting. */
  clear(): number {
    let waiting = 0
    for (const first of this.byHash.values()) {
      for (let key: BusyKey | undefined = first; key !== undefined; key = key.next) waiting += key.waiting?.length ?? 0
    }
    this.byHash.clear()
    this.idle = 0
    return waiting
  }
}
