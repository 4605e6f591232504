/**
 * Just enough SVG to draw the benchmark chart: each helper returns the element's text.
 * Coordinates are rounded to a tenth of a pixel so that a redrawn chart diffs only where a
 * figure changed.
 */

export type Attributes = Readonly<Record<string, string | number | undefined>>

const round = (value: number): number => Math.round(value * 10) / 10

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const attributes = (attrs: Attributes): string =>
  Object.entries(attrs)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([name, value]) => ` ${name}="${typeof value === "number" ? round(value) : escapeXml(value)}"`)
    .join("")

/**
 * An element with attributes and children (already SVG text); empty children close it in
 * place. A container puts each child on a line of its own, so that diffs show what changed.
 */
export const element = (
  name: string,
  attrs: Attributes,
  children: ReadonlyArray<string> = [],
  container = false
): string =>
  children.length === 0
    ? `<${name}${attributes(attrs)}/>`
    : container
      ? `<${name}${attributes(attrs)}>\n${children.join("\n")}\n</${name}>`
      : `<${name}${attributes(attrs)}>${children.join("")}</${name}>`

export interface TextStyle {
  readonly fill: string
  readonly size: number
  readonly anchor?: "start" | "middle" | "end" | undefined
  readonly weight?: "bold" | undefined
  /** A background-coloured outline, so that text stays readable where it crosses a line. */
  readonly halo?: boolean | undefined
}

/** Text whose baseline starts (or, with `anchor`, is centred or ends) at `x`, `y`. */
export const text = (x: number, y: number, content: string, style: TextStyle): string =>
  element(
    "text",
    {
      x,
      y,
      fill: style.fill,
      "font-size": style.size,
      "text-anchor": style.anchor,
      "font-weight": style.weight,
      stroke: style.halo === true ? "#ffffff" : undefined,
      "stroke-width": style.halo === true ? 4 : undefined,
      "paint-order": style.halo === true ? "stroke" : undefined
    },
    [escapeXml(content)]
  )

export const rect = (x: number, y: number, width: number, height: number, fill: string): string =>
  element("rect", { x, y, width, height, fill })

export interface LineStyle {
  readonly stroke: string
  readonly width: number
  /** Dash length (and gap), for a dashed line. */
  readonly dash?: number | undefined
}

const lineAttributes = (style: LineStyle): Attributes => ({
  stroke: style.stroke,
  "stroke-width": style.width,
  "stroke-dasharray": style.dash
})

export const line = (x1: number, y1: number, x2: number, y2: number, style: LineStyle): string =>
  element("line", { x1, y1, x2, y2, ...lineAttributes(style) })

/** A line through `points`, as one element. */
export const polyline = (points: ReadonlyArray<readonly [number, number]>, style: LineStyle): string =>
  element("polyline", {
    points: points.map(([x, y]) => `${round(x)},${round(y)}`).join(" "),
    fill: "none",
    "stroke-linejoin": "round",
    ...lineAttributes(style)
  })

/** Children drawn with their origin moved to `x`, `y`. */
export const group = (x: number, y: number, children: ReadonlyArray<string>): string =>
  element("g", { transform: `translate(${round(x)} ${round(y)})` }, children, true)

/**
 * A whole SVG document on a white background (a transparent one would put dark text on a
 * dark page), titled for screen readers.
 */
export const document = (
  width: number,
  height: number,
  title: string,
  font: string,
  children: ReadonlyArray<string>
): string =>
  `${element(
    "svg",
    {
      xmlns: "http://www.w3.org/2000/svg",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": title,
      "font-family": font
    },
    [element("title", {}, [escapeXml(title)]), rect(0, 0, width, height, "#ffffff"), ...children],
    true
  )}\n`
