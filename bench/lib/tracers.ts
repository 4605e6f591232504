/**
 * The tracers the observability benchmarks install (workload 2b on the engine, and workload 1
 * on the real broker): a no-op Effect tracer, and OpenTelemetry's SDK through
 * `@effect/opentelemetry`, recording nothing (`AlwaysOffSampler`) or every span (handed to an
 * exporter that drops it: what a real exporter does besides the network).
 */
import * as Resource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter
} from "@opentelemetry/sdk-trace-base"
import * as Layer from "effect/Layer"
import * as Tracer from "effect/Tracer"

/**
 * - `off`: metrics off and no tracer (Effect's built-in one, which exports nothing: records
 *   get no span);
 * - `metrics`: metrics on, no tracer;
 * - `noopTracer`: metrics off and an Effect `Tracer` whose spans record nothing: what Sluice's
 *   per-record spans cost by themselves;
 * - `nonRecording`: metrics off and OpenTelemetry's tracer with `AlwaysOffSampler`;
 * - `unsampledParents`: the same tracer, and every record carries the `traceparent` of a
 *   producer whose trace is not sampled: what a consumer sees under head sampling when its
 *   producers are traced (the sampler said no upstream; no record gets a span);
 * - `recording`: metrics off and OpenTelemetry's tracer recording every span.
 */
export type ObservabilityVariant = "off" | "metrics" | "noopTracer" | "nonRecording" | "unsampledParents" | "recording"

/** Counts what it is handed and drops it. */
export class DroppingExporter implements SpanExporter {
  count = 0
  export(spans: Array<ReadableSpan>, done: (result: { code: 0 }) => void): void {
    this.count += spans.length
    done({ code: 0 })
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

const otel = (recording: boolean, exporter: DroppingExporter) =>
  OtelTracer.layer.pipe(
    Layer.provide(Resource.layer({ serviceName: "bench" })),
    Layer.provide(
      Layer.succeed(
        OtelTracer.OtelTracerProvider,
        new BasicTracerProvider({
          sampler: recording ? new AlwaysOnSampler() : new AlwaysOffSampler(),
          spanProcessors: [new SimpleSpanProcessor(exporter)]
        })
      )
    )
  )

const ignore = () => {}

/**
 * A tracer whose spans keep nothing (ids, and no-ops for attributes, events and the end), with
 * `context` as its hook around each instruction.
 */
export const noopTracerWith = (context: Tracer.Tracer["context"]): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind) => ({
      _tag: "Span",
      name,
      spanId: "0000000000000001",
      traceId: "00000000000000000000000000000001",
      parent,
      context,
      status: { _tag: "Started", startTime },
      attributes: new Map(),
      links,
      sampled: false,
      kind,
      end: ignore,
      attribute: ignore,
      event: ignore,
      addLinks: ignore
    }),
    context
  })

const noopTracer = noopTracerWith((f) => f())

/** The tracer layer of `variant` (empty for `off` and `metrics`) and the exporter it feeds. */
export const tracerOf = (variant: ObservabilityVariant) => {
  const exporter = new DroppingExporter()
  const layer =
    variant === "noopTracer"
      ? Layer.setTracer(noopTracer)
      : variant === "nonRecording" || variant === "unsampledParents"
        ? otel(false, exporter)
        : variant === "recording"
          ? otel(true, exporter)
          : Layer.empty
  return { exporter, layer }
}
