/**
 * Traces (O1): a span per record (`process <topic>`, kind consumer) with OpenTelemetry's
 * messaging attributes, parented by the producing span whose context the record carries in
 * its W3C `traceparent` header; the `Producer` writes that header. Everything goes through
 * Effect's `Tracer`, so whatever tracer the application installs (`@effect/opentelemetry`)
 * exports the spans.
 *
 * The hot path pays for spans only when someone can see them: `exporting` is decided once per
 * worker (or producer call) from the tracer in context, and with Effect's built-in tracer
 * (which exports nothing) or tracing disabled, records run without a span, a header lookup
 * or a closure. When a tracer exports, each lane makes its records' spans current through a
 * stand-in (`laneSpans`), not `Effect.withSpan`.
 *
 * Attribute names are those of the OpenTelemetry semantic conventions for messaging (v1.40,
 * Kafka): `messaging.kafka.offset` and `messaging.consumer.group.name`, not the deprecated
 * `messaging.kafka.message.offset` and `messaging.kafka.consumer.group`.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { Header, RawRecord } from "../ConsumerRecord.js"

/** The W3C trace-context header. */
export const traceparent = "traceparent"

/** Effect's default tracer: it keeps spans in memory for the fiber's parent chain and exports nothing. */
const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * Whether spans made here reach anyone: tracing is enabled and the tracer is not Effect's
 * built-in one. Read once per worker, not per record.
 */
export const exporting: Effect.Effect<boolean> = Effect.flatMap(
  FiberRef.get(FiberRef.currentTracerEnabled),
  (enabled) => (enabled ? Effect.map(Effect.tracer, (tracer) => tracer !== nativeTracer) : Effect.succeed(false))
)

const hex32 = /^[0-9a-f]{32}$/
const hex16 = /^[0-9a-f]{16}$/
const zeros32 = "00000000000000000000000000000000"
const zeros16 = "0000000000000000"

/** `00-<trace id>-<span id>-<flags>` for a span (W3C Trace Context, version 00). */
export const format = (span: { readonly traceId: string; readonly spanId: string; readonly sampled: boolean }) =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** The remote parent a `traceparent` value names, or `undefined` when it is not a valid one. */
export const parse = (value: string): Tracer.ExternalSpan | undefined => parseCommon(value) ?? parseAny(value)

const isLowerHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102)
const hexValue = (c: number): number => (c <= 57 ? c - 48 : c - 87)

/** Whether `value[from, to)` is lowercase hex and not all zeros (an id the spec allows). */
const isId = (value: string, from: number, to: number): boolean => {
  let nonZero = false
  for (let i = from; i < to; i++) {
    const c = value.charCodeAt(i)
    if (!isLowerHex(c)) return false
    if (c !== 48) nonZero = true
  }
  return nonZero
}

/**
 * The form every producer writes, version 00 and nothing around it, read without splitting
 * or regular expressions: a record's parse is on the hot path of a traced consumer (three
 * times cheaper than `parseAny`, bench observability workload). `undefined` for anything
 * else, which `parseAny` then decides.
 */
const parseCommon = (value: string): Tracer.ExternalSpan | undefined => {
  if (
    value.length !== 55 ||
    value.charCodeAt(0) !== 48 ||
    value.charCodeAt(1) !== 48 ||
    value.charCodeAt(2) !== 45 ||
    value.charCodeAt(35) !== 45 ||
    value.charCodeAt(52) !== 45 ||
    !isId(value, 3, 35) ||
    !isId(value, 36, 52)
  ) {
    return undefined
  }
  const high = value.charCodeAt(53)
  const low = value.charCodeAt(54)
  if (!isLowerHex(high) || !isLowerHex(low)) return undefined
  const traceFlags = hexValue(high) * 16 + hexValue(low)
  return Tracer.externalSpan({
    traceId: value.slice(3, 35),
    spanId: value.slice(36, 52),
    sampled: (traceFlags & 1) === 1,
    context: flagsContext(traceFlags)
  })
}

/** The general reader: any version, surrounding whitespace, a future version's extra fields. */
export const parseAny = (value: string): Tracer.ExternalSpan | undefined => {
  const parts = value.trim().split("-")
  if (parts.length < 4) return undefined
  const [version, traceId, spanId, flags] = parts as [string, string, string, string]
  // Version ff is forbidden; a future version may add fields after the flags (hence `< 4`).
  if (version.length !== 2 || version === "ff" || (version === "00" && parts.length !== 4)) return undefined
  if (!hex32.test(traceId) || traceId === zeros32 || !hex16.test(spanId) || spanId === zeros16) return undefined
  if (!/^[0-9a-f]{2}$/.test(flags)) return undefined
  const traceFlags = Number.parseInt(flags, 16)
  return Tracer.externalSpan({ traceId, spanId, sampled: (traceFlags & 1) === 1, context: flagsContext(traceFlags) })
}

/**
 * Where `@effect/opentelemetry` looks for the trace flags of a span it did not make (a remote
 * parent, or a lane's stand-in: it takes a span without them as sampled): its tag, by key, so
 * that core needs no OpenTelemetry package.
 */
const otelTraceFlags = Context.GenericTag<"OtelTraceFlags", number>("@effect/opentelemetry/Tracer/OtelTraceFlags")

/** The contexts of the two flags producers write (sampled or not), made once rather than per record. */
const commonFlags = [Context.make(otelTraceFlags, 0), Context.make(otelTraceFlags, 1)] as const
const flagsContext = (traceFlags: number): Context.Context<"OtelTraceFlags"> =>
  traceFlags < 2 ? commonFlags[traceFlags]! : Context.make(otelTraceFlags, traceFlags)

/**
 * `context` with the trace flags of an unsampled span. Sampled is what a span without the entry
 * counts as, so only an unsampled one needs it. No new context per record in the common cases:
 * a producer `parse` read already carries its flags, and a record span made here has an empty
 * context.
 */
const unsampledContext = (context: Context.Context<never>): Context.Context<never> => {
  const flags: unknown = context.unsafeMap.get(otelTraceFlags.key)
  if (typeof flags === "number" && (flags & 1) === 0) return context
  return context.unsafeMap.size === 0 ? commonFlags[0] : Context.add(context, otelTraceFlags, 0)
}

const decoder = new TextDecoder()

/** The producer's span context carried by a record, if any. */
export const producerOf = (headers: ReadonlyArray<Header>): Tracer.ExternalSpan | undefined => {
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i]!
    if (header.key === traceparent && header.value !== null) return parse(decoder.decode(header.value))
  }
  return undefined
}

/** The messaging attributes of one record's span. */
export const recordAttributes = (raw: RawRecord, groupId: string): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    "messaging.system": "kafka",
    "messaging.operation.name": "process",
    "messaging.operation.type": "process",
    "messaging.destination.name": raw.topic,
    "messaging.destination.partition.id": String(raw.partition),
    "messaging.consumer.group.name": groupId,
    "messaging.kafka.offset": raw.offset
  }
  if (raw.key !== null) attributes["messaging.kafka.message.key"] = decoder.decode(raw.key)
  if (raw.value === null) attributes["messaging.kafka.message.tombstone"] = true
  else attributes["messaging.message.body.size"] = raw.value.length
  return attributes
}

/**
 * The record spans of one lane: a fiber that runs records one after another (a partition's
 * worker, or one of its lanes in keyed and unordered modes). `install` wraps the lane once;
 * the processor calls `enter` when a record's handler starts, `leave` when it ended, and
 * `interrupted` if the lane is interrupted with a record in flight. None of them is an effect:
 * a record's span costs no step of the fiber.
 */
export interface LaneSpans {
  readonly install: <A, E, R>(lane: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Makes `raw`'s span (or its unsampled producer's context) the lane's current span. `at`: the
   * time `leave` returned for the lane's previous record, when `raw` starts in the same
   * synchronous step (nothing ran in between), so its span starts when that one ended without
   * another clock read.
   */
  readonly enter: (raw: RawRecord, at?: bigint) => void
  /** Ends the span of the record in flight with `exit`; returns its end time (undefined without a span). */
  readonly leave: (exit: Exit.Exit<unknown, unknown>) => bigint | undefined
  /** Ends the span of the record in flight, if any, as interrupted (the lane is ending). */
  readonly interrupted: () => void
}

/**
 * The lane's current span, as its fiber's context holds it: a stand-in for the span of the
 * record the lane runs (or, between records, for the span the lane started under).
 *
 * Why a stand-in: making each record's span current the usual way (`Effect.withSpan`, or a
 * `FiberRef` write of the fiber's context per record) costs 3 to 15 µs a record, several
 * times the engine's whole work for a record: every write of the context hashes a new
 * `Context` (`Hash.cached` defines a property on it) and `withSpan` adds interruption-safe
 * regions. The stand-in is put into the lane's context once, and a record only points it at
 * its span. Reads go to that span (ids, `sampled`, attributes, events, end), and the lane's
 * tracer swaps the stand-in for it when a child span is made, so every span made under a
 * record names the record's span itself as its parent, whatever tracer keeps it.
 *
 * What a user can tell: `Effect.currentSpan` in a handler returns the stand-in, which follows
 * the lane to its next record; a fiber forked by a handler that outlives its record makes
 * its spans under whatever record the lane runs then.
 */
class LaneSpan implements Tracer.Span {
  readonly _tag = "Span"
  constructor(
    /** The span the lane started under, current between records. */
    readonly base: Tracer.AnySpan | undefined
  ) {
    this.target = base
  }
  /** The record's span, its unsampled producer, or `base`. */
  target: Tracer.AnySpan | undefined
  private get span(): Tracer.Span | undefined {
    const target = this.target
    return target !== undefined && target._tag === "Span" ? target : undefined
  }
  get name() {
    return this.span?.name ?? "lane"
  }
  get spanId() {
    return this.target?.spanId ?? zeros16
  }
  get traceId() {
    return this.target?.traceId ?? zeros32
  }
  get sampled() {
    return this.target?.sampled ?? false
  }
  /** The target the context below was made for. */
  private contextOf: Tracer.AnySpan | undefined = undefined
  private targetContext: Context.Context<never> = Context.empty()
  /**
   * The target's context, with its sampling decision as W3C trace flags. OpenTelemetry's
   * tracer reads this on every step of the fiber to tell libraries instrumented with
   * OpenTelemetry's own API (database, HTTP clients) whether the record's span is sampled;
   * without the flags it says sampled, and under a parent-based sampler those libraries
   * recorded spans under a record span that was never exported. Made once per target.
   */
  get context() {
    const target = this.target
    if (target === undefined) return Context.empty()
    if (this.contextOf !== target) {
      this.contextOf = target
      this.targetContext = target.sampled ? target.context : unsampledContext(target.context)
    }
    return this.targetContext
  }
  get parent() {
    return this.span?.parent ?? Option.none()
  }
  get status(): Tracer.SpanStatus {
    return this.span?.status ?? { _tag: "Started", startTime: BigInt(0) }
  }
  get attributes(): ReadonlyMap<string, unknown> {
    return this.span?.attributes ?? new Map()
  }
  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.span?.links ?? []
  }
  get kind(): Tracer.SpanKind {
    return this.span?.kind ?? "internal"
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.span?.end(endTime, exit)
  }
  attribute(key: string, value: unknown): void {
    this.span?.attribute(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.span?.event(name, startTime, attributes)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.span?.addLinks(links)
  }
}

const spanOptions: Tracer.SpanOptions = { kind: "consumer", root: true, captureStackTrace: false }

/**
 * Record spans for the lanes of a run whose tracer exports (O1): a span per record,
 * `process <topic>`, kind consumer, child of the producing span when the record carries one,
 * else a trace of its own (not a child of the consumer's long-lived run span). A producer
 * whose trace is not sampled gets no span: under OpenTelemetry's default (parent-based)
 * sampler it would record nothing, and a span costs more than a no-op handler; its context
 * is current instead, so what the handler sends carries the unsampled context on.
 *
 * A span gets what `Effect.withSpan` would give it: the fiber's span annotations and links,
 * the clock's time (zero when timing is disabled), the handler's exit.
 */
export const laneSpans = (groupId: string) => (): LaneSpans => {
  let current: LaneSpan | undefined
  let tracer: Tracer.Tracer | undefined
  let clock: Clock.Clock | undefined
  let timing = true
  let links: Array<Tracer.SpanLink> = []
  let annotations: HashMap.HashMap<string, unknown> = HashMap.empty()
  /** The span of the record in flight, made by this lane. */
  let inFlight: Tracer.Span | undefined
  const now = () => (timing && clock !== undefined ? clock.unsafeCurrentTimeNanos() : BigInt(0))
  /** The name of the lane's record spans, made once per topic rather than per record. */
  let nameOf: string | undefined
  let name = ""
  const end = (exit: Exit.Exit<unknown, unknown>): bigint | undefined => {
    const span = inFlight
    inFlight = undefined
    if (current !== undefined) current.target = current.base
    if (span === undefined) return undefined
    const at = now()
    span.end(at, exit)
    return at
  }
  return {
    install: (lane) =>
      Effect.withFiberRuntime((fiber) => {
        const stand = new LaneSpan(fiber.currentSpan)
        const own = fiber.currentTracer
        current = stand
        tracer = own
        clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
        links = Chunk.toArray(fiber.getFiberRef(FiberRef.currentTracerSpanLinks))
        annotations = fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)
        // The lane's tracer: the fiber's own, with the stand-in replaced by what it stands
        // for in the parent of every span made under it.
        const laneTracer = Tracer.make({
          span: (name, parent, context, spanLinks, startTime, kind, options) =>
            own.span(
              name,
              parent._tag === "Some" && parent.value === stand ? Option.fromNullable(stand.target) : parent,
              context,
              spanLinks,
              startTime,
              kind,
              options
            ),
          // Bound rather than wrapped: the runtime calls this on every instruction of the lane.
          context: own.context.bind(own)
        })
        return lane.pipe(Effect.withParentSpan(stand), Effect.withTracer(laneTracer)) as typeof lane
      }),
    enter: (raw, at) => {
      const producer = producerOf(raw.headers)
      if (producer !== undefined && !producer.sampled) {
        current!.target = producer
        return
      }
      if (raw.topic !== nameOf) {
        nameOf = raw.topic
        name = `process ${raw.topic}`
      }
      const span = tracer!.span(
        name,
        producer === undefined ? Option.none() : Option.some(producer),
        Context.empty(),
        links,
        at ?? now(),
        "consumer",
        spanOptions
      )
      // A span the tracer does not sample (OpenTelemetry's sampler said no) records nothing:
      // its attributes would be made and converted for nobody (an eighth of such a span's cost,
      // with `@effect/opentelemetry` and an AlwaysOff sampler: bench observability workload).
      if (span.sampled) {
        if (HashMap.size(annotations) > 0) HashMap.forEach(annotations, (value, key) => span.attribute(key, value))
        const attributes = recordAttributes(raw, groupId)
        for (const key in attributes) span.attribute(key, attributes[key])
      }
      inFlight = span
      current!.target = span
    },
    leave: end,
    interrupted: () => {
      if (inFlight !== undefined) end(Exit.interrupt(FiberId.none))
    }
  }
}

/**
 * Runs a chunk (a batch handler's records of one partition) in one `process <topic>` span
 * linked to each record's producing span, as the conventions ask of batch processing.
 */
export const chunkSpan = <A, E, R>(
  raws: ReadonlyArray<RawRecord>,
  groupId: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const first = raws[0]
  if (first === undefined) return effect
  const links: Array<Tracer.SpanLink> = []
  for (const raw of raws) {
    const producer = producerOf(raw.headers)
    if (producer !== undefined) {
      links.push({ _tag: "SpanLink", span: producer, attributes: { "messaging.kafka.offset": raw.offset } })
    }
  }
  return Effect.withSpan(effect, `process ${first.topic}`, {
    kind: "consumer",
    root: true,
    links,
    captureStackTrace: false,
    attributes: {
      "messaging.system": "kafka",
      "messaging.operation.name": "process",
      "messaging.operation.type": "process",
      "messaging.destination.name": first.topic,
      "messaging.destination.partition.id": String(first.partition),
      "messaging.consumer.group.name": groupId,
      "messaging.batch.message_count": raws.length,
      "messaging.kafka.offset": first.offset
    }
  })
}

/** `chunkSpan` when a tracer exports it; checked per chunk, which is cheap beside a chunk's handler. */
export const chunkSpanIfExporting = <A, E, R>(
  raws: ReadonlyArray<RawRecord>,
  groupId: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.flatMap(exporting, (on) => (on ? chunkSpan(raws, groupId, effect) : effect))

/** Adds an event to the current span, if there is one (failure paths only: it looks the span up). */
export const event = (name: string, attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
    Option.isNone(span)
      ? Effect.void
      : Effect.clockWith((clock) =>
          Effect.sync(() => span.value.event(name, clock.unsafeCurrentTimeNanos(), attributes))
        )
  )

/** `headers` with `traceparent` set to `value` (an existing one replaced: this send is the record's producer). */
export const withTraceparent = (
  headers: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | null }> | undefined,
  value: Uint8Array
): Array<{ readonly key: string; readonly value: Uint8Array | null }> => {
  const out: Array<{ readonly key: string; readonly value: Uint8Array | null }> = []
  if (headers !== undefined) for (const header of headers) if (header.key !== traceparent) out.push(header)
  out.push({ key: traceparent, value })
  return out
}

/**
 * The options of an engine operation's span (`Consumer.commit`, `Consumer.assign`,
 * `Consumer.revoke`, `Consumer.lose`): a trace of its own, not a child of the run's span,
 * which lives as long as the consumer.
 */
export const engineSpan = (
  groupId: string,
  operation: string,
  attributes: Record<string, unknown> = {}
): Tracer.SpanOptions => ({
  root: true,
  kind: operation === "commit" ? "client" : "internal",
  captureStackTrace: false,
  attributes: {
    "messaging.system": "kafka",
    "messaging.operation.name": operation,
    "messaging.consumer.group.name": groupId,
    ...attributes
  }
})

/** The partitions an engine span is about, as `topic:partition` strings. */
export const partitionsAttribute = (
  partitions: ReadonlyArray<{ readonly topic: string; readonly partition: number }>
): ReadonlyArray<string> => partitions.map((tp) => `${tp.topic}:${tp.partition}`)
