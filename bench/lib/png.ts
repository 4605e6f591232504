/**
 * A tiny raster canvas and PNG encoder (zlib from Node), so that the chart needs neither a
 * browser nor ImageMagick: rectangles, lines, and text in the 5 × 7 font at any integer
 * scale.
 */
import { deflateSync } from "node:zlib"
import { glyph, glyphWidth } from "./font.js"

export type Color = readonly [number, number, number]

export const hex = (value: string): Color => [
  Number.parseInt(value.slice(1, 3), 16),
  Number.parseInt(value.slice(3, 5), 16),
  Number.parseInt(value.slice(5, 7), 16)
]

export class Canvas {
  readonly pixels: Uint8Array

  constructor(
    readonly width: number,
    readonly height: number,
    background: Color = [255, 255, 255]
  ) {
    this.pixels = new Uint8Array(width * height * 3)
    this.rect(0, 0, width, height, background)
  }

  /** Sets a pixel, blending `alpha` (0–1) of `color` over what is there. */
  dot(x: number, y: number, color: Color, alpha = 1): void {
    x = Math.round(x)
    y = Math.round(y)
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return
    const i = (y * this.width + x) * 3
    for (let c = 0; c < 3; c++) {
      this.pixels[i + c] = Math.round(this.pixels[i + c]! * (1 - alpha) + color[c]! * alpha)
    }
  }

  rect(x: number, y: number, w: number, h: number, color: Color, alpha = 1): void {
    const x0 = Math.max(0, Math.round(x))
    const y0 = Math.max(0, Math.round(y))
    const x1 = Math.min(this.width, Math.round(x + w))
    const y1 = Math.min(this.height, Math.round(y + h))
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.dot(px, py, color, alpha)
  }

  /** A line `thickness` pixels wide, anti-aliased by supersampling its distance field. */
  line(x0: number, y0: number, x1: number, y1: number, color: Color, thickness = 1, dash?: number): void {
    const minX = Math.floor(Math.min(x0, x1) - thickness)
    const maxX = Math.ceil(Math.max(x0, x1) + thickness)
    const minY = Math.floor(Math.min(y0, y1) - thickness)
    const maxY = Math.ceil(Math.max(y0, y1) + thickness)
    const dx = x1 - x0
    const dy = y1 - y0
    const length2 = dx * dx + dy * dy || 1
    const half = thickness / 2
    for (let py = minY; py <= maxY; py++) {
      for (let px = minX; px <= maxX; px++) {
        let covered = 0
        for (let sy = 0; sy < 3; sy++) {
          for (let sx = 0; sx < 3; sx++) {
            const x = px + (sx + 0.5) / 3 - 0.5
            const y = py + (sy + 0.5) / 3 - 0.5
            const t = Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / length2))
            if (dash !== undefined && Math.floor((t * Math.sqrt(length2)) / dash) % 2 === 1) continue
            const ex = x0 + t * dx - x
            const ey = y0 + t * dy - y
            if (ex * ex + ey * ey <= half * half) covered++
          }
        }
        if (covered > 0) this.dot(px, py, color, covered / 9)
      }
    }
  }

  /** The width of `text` at `scale`. */
  static textWidth(text: string, scale: number): number {
    return [...text].length * (glyphWidth + 1) * scale - scale
  }

  /** Draws `text` with its top-left corner at (x, y); `align` moves the anchor. */
  text(x: number, y: number, text: string, color: Color, scale = 2, align: "left" | "center" | "right" = "left"): void {
    const width = Canvas.textWidth(text, scale)
    let cursor = align === "left" ? x : align === "center" ? x - width / 2 : x - width
    cursor = Math.round(cursor)
    for (const char of text) {
      const rows = glyph(char)
      for (let row = 0; row < rows.length; row++) {
        for (let col = 0; col < glyphWidth; col++) {
          if (rows[row]![col]) this.rect(cursor + col * scale, y + row * scale, scale, scale, color)
        }
      }
      cursor += (glyphWidth + 1) * scale
    }
  }

  /** Text turned 90° counter-clockwise, reading upwards, centred on (x, y). */
  textUp(x: number, y: number, text: string, color: Color, scale = 2): void {
    const width = Canvas.textWidth(text, scale)
    let cursor = Math.round(y + width / 2)
    for (const char of text) {
      const rows = glyph(char)
      for (let row = 0; row < rows.length; row++) {
        for (let col = 0; col < glyphWidth; col++) {
          if (rows[row]![col]) this.rect(x + row * scale, cursor - (col + 1) * scale, scale, scale, color)
        }
      }
      cursor -= (glyphWidth + 1) * scale
    }
  }

  /** The image as a PNG file (8-bit RGB). */
  png(): Buffer {
    const raw = Buffer.alloc((this.width * 3 + 1) * this.height)
    for (let y = 0; y < this.height; y++) {
      raw[y * (this.width * 3 + 1)] = 0 // filter: none
      Buffer.from(this.pixels.buffer, y * this.width * 3, this.width * 3).copy(raw, y * (this.width * 3 + 1) + 1)
    }
    const header = Buffer.alloc(13)
    header.writeUInt32BE(this.width, 0)
    header.writeUInt32BE(this.height, 4)
    header[8] = 8 // bit depth
    header[9] = 2 // colour type: RGB
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk("IHDR", header),
      chunk("IDAT", deflateSync(raw, { level: 9 })),
      chunk("IEND", Buffer.alloc(0))
    ])
  }
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

const crc32 = (data: Buffer): number => {
  let crc = 0xffffffff
  for (const byte of data) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

const chunk = (type: string, data: Buffer): Buffer => {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const typed = Buffer.concat([Buffer.from(type, "ascii"), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(typed))
  return Buffer.concat([length, typed, crc])
}
