import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as Tracing from "../src/internal/tracing.js"

const otelTraceFlags = Context.GenericTag<"OtelTraceFlags", number>("@effect/opentelemetry/Tracer/OtelTraceFlags")

describe("traceparent (O1)", () => {
  it("O1 a valid traceparent names the remote parent, its sampled flag included", () => {
    const parent = Tracing.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    expect(parent).toMatchObject({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      sampled: true
    })
    expect(Tracing.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled).toBe(false)
    // A later version may add fields after the flags.
    expect(Tracing.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")?.spanId).toBe(
      "00f067aa0ba902b7"
    )
  })

  it("O1 a malformed traceparent is ignored, never a failure", () => {
    for (const bad of [
      "",
      "garbage",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"
    ]) {
      expect(Tracing.parse(bad)).toBeUndefined()
    }
  })

  it("O1 the fast reader of the common form agrees with the general one on every one-character change", () => {
    const flagsOf = (span: Tracer.ExternalSpan | undefined) =>
      span === undefined ? undefined : Context.getOption(span.context, otelTraceFlags)
    const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    const inputs = [valid, ` ${valid}`, `${valid} `, valid.replace(/-01$/, "-ff"), valid.replace(/-01$/, "-02")]
    for (let i = 0; i < valid.length; i++) {
      for (const c of ["0", "1", "a", "f", "A", "g", "-", " "]) inputs.push(valid.slice(0, i) + c + valid.slice(i + 1))
    }
    for (const input of inputs) {
      const fast = Tracing.parse(input)
      const general = Tracing.parseAny(input)
      expect({ input, fast, flags: flagsOf(fast) }).toEqual({ input, fast: general, flags: flagsOf(general) })
    }
    expect(flagsOf(Tracing.parse(valid.replace(/-01$/, "-03")))).toEqual(Option.some(3))
  })

  it("O1 format and parse round-trip", () => {
    const span = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true }
    expect(Tracing.parse(Tracing.format(span))).toMatchObject(span)
  })

  it.effect("O1 records get spans only under a tracer that exports them", () =>
    Effect.gen(function* () {
      expect(yield* Tracing.exporting).toBe(false)
      const custom = Tracer.make({ span: () => ({}) as never, context: (f) => f() })
      expect(yield* Effect.withTracer(Tracing.exporting, custom)).toBe(true)
      expect(yield* Effect.withTracer(Tracing.exporting, custom).pipe(Effect.withTracerEnabled(false))).toBe(false)
    })
  )
})
