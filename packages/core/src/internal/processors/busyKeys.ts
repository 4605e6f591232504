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

/** A busy key: a record of it is in flight. */
export class BusyKey {
  /** Records of this key taken from the buffer and waiting for it, oldest first. */
  waiting: Array<RawRecord> | undefined = undefined
  /** The next busy key of the same hash. */
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

export class BusyKeys {
  private readonly byHash = new Map<number, BusyKey>()

  /** The busy key with these bytes, if it is busy. */
  find(bytes: Uint8Array, hash: number): BusyKey | undefined {
    for (let key = this.byHash.get(hash); key !== undefined; key = key.next) {
      if (sameBytes(key.bytes, bytes)) return key
    }
    return undefined
  }

  /** Marks these bytes busy (they are not). */
  add(bytes: Uint8Array, hash: number): BusyKey {
    const key = new BusyKey(bytes, hash)
    key.next = this.byHash.get(hash)
    this.byHash.set(hash, key)
    return key
  }

  /** `key` is free: nothing of it is in flight or waiting. */
  remove(key: BusyKey): void {
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
    return waiting
  }
}
