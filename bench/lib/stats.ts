/** Small statistics and formatting helpers. */

export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Rounds to `digits` significant digits (JSON stays readable, nothing pretends to precision). */
export const sig = (value: number, digits = 4): number =>
  Number.isFinite(value) ? Number(value.toPrecision(digits)) : value

/** Rounds to `digits` decimals. */
export const fixed = (value: number, digits = 2): number =>
  Number.isFinite(value) ? Math.round(value * 10 ** digits) / 10 ** digits : value

export const mb = (bytes: number): number => fixed(bytes / 1_000_000, 1)

/** 1234567 → "1,234,567". */
export const thousands = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "n/a"

/** 0.0523 → "5.2 %". */
export const percent = (fraction: number, digits = 1): string =>
  Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)} %` : "n/a"

export const times = (ratio: number, digits = 2): string =>
  Number.isFinite(ratio) ? `${ratio.toFixed(digits)}×` : "n/a"
