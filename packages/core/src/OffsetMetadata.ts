/**
 * The commit metadata that remembers offsets finished above the frontier, so that a restart
 * (or the next owner) does not redo them. Kafka stores the string beside the committed
 * offset; its default limit (`offset.metadata.max.bytes`) is 4,096 bytes.
 *
 * Format: `sluice:1:<r|b>:<base64>` — version 1, then either a run-length encoding (varints
 * of alternating unfinished/finished run lengths, starting at the frontier) or a bitset (bit
 * i set when frontier + i is finished), whichever is shorter. Run-length wins for long runs
 * (a slow record at the frontier, everything after it done); the bitset for ragged windows,
 * where it costs one bit per offset: a window of 24,504 offsets always fits (`maxEncodableWindow`).
 *
 * @since 0.1.0
 */

import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"

const PREFIX = "sluice:1:"

/**
 * The broker's default limit on commit metadata.
 *
 * @since 0.1.0
 */
export const maxBytes = 4096

/**
 * The widest window whose bitset encoding always fits in `maxBytes`.
 *
 * @since 0.1.0
 */
export const maxEncodableWindow = Math.floor(((maxBytes - PREFIX.length - 2) * 3) / 4) * 8

const pushVarint = (out: Array<number>, value: number): void => {
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80)
    value = Math.floor(value / 128)
  }
  out.push(value)
}

const runLength = (frontier: number, finished: ReadonlyArray<number>): Uint8Array => {
  const out: Array<number> = []
  let cursor = frontier
  let i = 0
  while (i < finished.length) {
    const start = finished[i]!
    let end = start
    while (i + 1 < finished.length && finished[i + 1] === end + 1) {
      i++
      end++
    }
    i++
    pushVarint(out, start - cursor) // unfinished run
    pushVarint(out, end - start + 1) // finished run
    cursor = end + 1
  }
  return Uint8Array.from(out)
}

const bitset = (frontier: number, finished: ReadonlyArray<number>): Uint8Array => {
  const last = finished[finished.length - 1]!
  const bytes = new Uint8Array(((last - frontier) >> 3) + 1)
  for (const offset of finished) {
    const bit = offset - frontier
    bytes[bit >> 3]! |= 1 << (bit & 7)
  }
  return bytes
}

/**
 * Encodes the finished offsets above `frontier` (ascending, all > frontier). Empty → "".
 *
 * @since 0.1.0
 */
export const encode = (frontier: number, finished: ReadonlyArray<number>): string => {
  if (finished.length === 0) return ""
  const rle = runLength(frontier, finished)
  const bits = bitset(frontier, finished)
  return rle.length <= bits.length
    ? `${PREFIX}r:${Encoding.encodeBase64(rle)}`
    : `${PREFIX}b:${Encoding.encodeBase64(bits)}`
}

/**
 * Decodes metadata written by `encode` for a commit at `frontier`. Anything else (another
 * tool's metadata, a future version, garbage) decodes to no offsets: redoing work is safe,
 * skipping it wrongly is not.
 *
 * @since 0.1.0
 */
export const decode = (frontier: number, metadata: string | undefined | null): Array<number> => {
  if (metadata === undefined || metadata === null || !metadata.startsWith(PREFIX)) return []
  const kind = metadata.slice(PREFIX.length, PREFIX.length + 2)
  // Standard base64 with padding, as written by `encode`; anything else is not ours.
  const decoded = Encoding.decodeBase64(metadata.slice(PREFIX.length + 2))
  if (Either.isLeft(decoded)) return []
  const bytes = decoded.right
  const out: Array<number> = []
  if (kind === "b:") {
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!
      for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) out.push(frontier + i * 8 + bit)
    }
    return out
  }
  if (kind !== "r:") return []
  let cursor = frontier
  let i = 0
  const readVarint = (): number | undefined => {
    let value = 0
    let scale = 1
    while (i < bytes.length) {
      const byte = bytes[i++]!
      value += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) return value
      scale *= 128
    }
    return undefined
  }
  while (i < bytes.length) {
    const gap = readVarint()
    const run = readVarint()
    if (gap === undefined || run === undefined || out.length + run > 10_000_000) return []
    cursor += gap
    for (let k = 0; k < run; k++) out.push(cursor + k)
    cursor += run
  }
  return out
}
