/**
 * The O1 trace tests (docs/observability.md) as a suite every driver runs: a record's
 * `process <topic>` span is the child of the send that produced it (W3C `traceparent`), with
 * OpenTelemetry's messaging attributes; retries and dead letters as span events; libraries
 * instrumented with OpenTelemetry's own API see the record's span and its sampling decision; an
 * unsampled producer's record gets no span; keyed lanes keep each record's children apart;
 * span times cover the handler; a run with tracing disabled makes no spans; a batch chunk links
 * its records' producers. Spans go through `@effect/opentelemetry` to OpenTelemetry's in-memory
 * exporter. A driver's tests call `suite(cluster)` with the services of one cluster (the
 * simulated one, kafkajs or librdkafka on a real broker).
 *
 * Needs the optional peer dependencies `@effect/opentelemetry`, `@opentelemetry/api`,
 * `@opentelemetry/context-async-hooks` and `@opentelemetry/sdk-trace-base`.
 *
 * @since 0.4.0
 */

import * as Resource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { describe, expect, it } from "@effect/vitest"
import * as OtelApi from "@opentelemetry/api"
import { SpanKind } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Codec from "@sluice/core/Codec"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Tracer from "effect/Tracer"
import type { Cluster } from "./MetricsConformance.js"
import { TestCluster } from "./TestCluster.js"
import { eventually, uniqueName } from "./TestHelpers.js"

const encode = (text: string) => new TextEncoder().encode(text)

class Declined extends Data.TaggedError("Declined")<{ readonly id: string }> {}

const named = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((s) => s.name === name)

/**
 * An OpenTelemetry tracer exporting every span its sampler keeps (all of them by default) to
 * `exporter`, as Effect's tracer. `provider` is there for code that uses OpenTelemetry's API
 * directly, as instrumented libraries do.
 *
 * @since 0.4.0
 */
export const tracing = (sampler?: Sampler) => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    ...(sampler === undefined ? {} : { sampler }),
    spanProcessors: [new SimpleSpanProcessor(exporter)]
  })
  const layer = OtelTracer.layer.pipe(
    Layer.provide(Resource.layer({ serviceName: "sluice-test" })),
    Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider))
  )
  const spans = (): ReadonlyArray<ReadableSpan> => exporter.getFinishedSpans()
  return { exporter, layer, provider, spans }
}

/**
 * The id of a span's parent (OpenTelemetry SDK 2: `parentSpanContext`).
 *
 * @since 0.4.0
 */
export const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId

/**
 * The O1 tests on `cluster`, in a `describe` of their own. Registers OpenTelemetry's
 * `AsyncLocalStorageContextManager` globally first (as `NodeSDK` does), if no context manager
 * is registered yet: without one, OpenTelemetry's `context.with` does nothing and no library
 * sees a parent.
 *
 * @since 0.4.0
 */
export const suite = (cluster: Cluster): void => {
  OtelApi.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  describe(`O1 traces (${cluster.name})`, () => {
    it.live("O1 producer → consumer: the process span is the send span's child, with the messaging attributes", () =>
      Effect.gen(function* () {
        const otel = tracing()
        const name = uniqueName("o1-trace")
        const groupId = uniqueName("o1-trace-group")
        const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
        const handled: Array<string> = []
        const pipeline = Pipeline.make({
          topic,
          handler: (record) => Effect.sync(() => handled.push(record.value))
        })
        yield* Effect.gen(function* () {
          yield* Effect.flatMap(TestCluster, (c) => c.createTopic(name, 2))
          yield* Effect.flatMap(Producer.Producer, (p) =>
            p.send(topic, [{ key: "order-7", value: "hello", partition: 1 }])
          ).pipe(Effect.withSpan("checkout"))
          const run = yield* Effect.fork(Pipeline.run(pipeline))
          yield* eventually(() => handled.length === 1, "the record handled")
          yield* eventually(() => named(otel.spans(), `process ${name}`).length === 1, "the process span ended")
          yield* Fiber.interrupt(run)
        }).pipe(Effect.provide(Layer.merge(cluster.services(groupId), otel.layer)))

        const spans = otel.spans()
        const checkout = named(spans, "checkout")[0]!
        const send = named(spans, `send ${name}`)[0]!
        const process = named(spans, `process ${name}`)[0]!
        expect(send.kind).toBe(SpanKind.PRODUCER)
        expect(parentOf(send)).toBe(checkout.spanContext().spanId)
        expect(send.attributes["messaging.system"]).toBe("kafka")
        expect(send.attributes["messaging.destination.name"]).toBe(name)

        expect(process.kind).toBe(SpanKind.CONSUMER)
        expect(process.spanContext().traceId).toBe(checkout.spanContext().traceId)
        expect(parentOf(process)).toBe(send.spanContext().spanId)
        expect(process.attributes).toMatchObject({
          "messaging.system": "kafka",
          "messaging.operation.name": "process",
          "messaging.operation.type": "process",
          "messaging.destination.name": name,
          "messaging.destination.partition.id": "1",
          "messaging.consumer.group.name": groupId,
          "messaging.kafka.offset": 0,
          "messaging.kafka.message.key": "order-7",
          "messaging.message.body.size": 5
        })
        // The engine's own operations have spans too, each a trace of its own.
        const assign = named(spans, "Consumer.assign")
        expect(assign.length).toBeGreaterThan(0)
        expect(assign[0]!.attributes["messaging.consumer.group.name"]).toBe(groupId)
        const commits = named(spans, "Consumer.commit")
        expect(commits.length).toBeGreaterThan(0)
        expect(commits[0]!.kind).toBe(SpanKind.CLIENT)
        expect(named(spans, "Consumer.shutdown").length).toBe(1)
      })
    )

    it.live(
      "O1 a record retried then dead-lettered: retry and dead_letter events on its span, the dead letter's send is its child",
      () =>
        Effect.gen(function* () {
          const otel = tracing()
          const name = uniqueName("o1-dlq")
          const dlq = `${name}.dlq`
          const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
          const pipeline = Pipeline.make({
            topic,
            handler: (record) => (record.value === "bad" ? Effect.fail(new Declined({ id: record.key })) : Effect.void),
            policy: ErrorPolicy.retry(Schedule.recurs(2), ErrorPolicy.deadLetter(dlq))
          })
          yield* Effect.gen(function* () {
            const c = yield* TestCluster
            yield* c.createTopic(name, 1)
            yield* c.createTopic(dlq, 1)
            yield* Effect.flatMap(Producer.Producer, (p) => p.send(topic, [{ key: "card-1", value: "bad" }])).pipe(
              Effect.withSpan("checkout")
            )
            const run = yield* Effect.fork(Pipeline.run(pipeline))
            yield* eventually(() => named(otel.spans(), `process ${name}`).length === 1, "the process span ended")
            yield* Fiber.interrupt(run)
            const letters = yield* c.readAll(dlq)
            expect(letters.length).toBe(1)
            // The dead letter carries the context of its own send, inside the process span.
            const header = letters[0]!.headers.find((h) => h.key === "traceparent")!
            const send = named(otel.spans(), `send ${dlq}`)[0]!
            expect(new TextDecoder().decode(header.value!)).toBe(
              `00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`
            )
          }).pipe(Effect.provide(Layer.merge(cluster.services(uniqueName("o1-dlq-group")), otel.layer)))

          const spans = otel.spans()
          const process = named(spans, `process ${name}`)[0]!
          const send = named(spans, `send ${dlq}`)[0]!
          expect(parentOf(send)).toBe(process.spanContext().spanId)
          expect(process.events.map((e) => e.name)).toEqual(["retry", "retry", "dead_letter"])
          expect(
            process.events.map((e) => e.attributes?.["sluice.attempt"] ?? e.attributes?.["sluice.attempts"])
          ).toEqual([2, 3, 3])
          expect(process.events[2]!.attributes?.["sluice.dead_letter.topic"]).toBe(dlq)
          expect(String(process.events[2]!.attributes?.["exception.message"])).toContain("Declined")
          expect(process.status.code).toBe(1) // settled: the span ends OK
        })
    )

    it.live(
      "O1 a library using OpenTelemetry's own API inside a handler makes its spans under the record's span, with that span's sampling decision",
      () =>
        Effect.gen(function* () {
          // What the library saw as its parent, and whether the span it started records.
          const run = (sampler: Sampler | undefined, traceparent?: string) =>
            Effect.gen(function* () {
              const otel = tracing(sampler)
              const name = uniqueName("o1-library")
              const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
              const seen: Array<{ readonly parent: string | undefined; readonly recording: boolean }> = []
              const pipeline = Pipeline.make({
                topic,
                handler: () =>
                  Effect.sync(() => {
                    const lib = otel.provider.getTracer("a-library").startSpan("library call")
                    seen.push({
                      parent: OtelApi.trace.getSpanContext(OtelApi.context.active())?.spanId,
                      recording: lib.isRecording()
                    })
                    lib.end()
                  })
              })
              yield* Effect.gen(function* () {
                const c = yield* TestCluster
                yield* c.createTopic(name, 1)
                const headers = traceparent === undefined ? [] : [{ key: "traceparent", value: encode(traceparent) }]
                yield* c.produce([{ topic: name, partition: 0, key: encode("k"), value: encode("v"), headers }])
                const fiber = yield* Effect.fork(Pipeline.run(pipeline))
                yield* eventually(() => seen.length === 1, "the record handled")
                yield* Fiber.interrupt(fiber)
              }).pipe(Effect.provide(Layer.merge(cluster.services(uniqueName("o1-library-group")), otel.layer)))
              return { name, seen: seen[0]!, spans: otel.spans() }
            })

          // Sampled: the library's span is the record span's child, and both are exported.
          const sampled = yield* run(undefined)
          const process = named(sampled.spans, `process ${sampled.name}`)[0]!
          const library = named(sampled.spans, "library call")[0]!
          expect(sampled.seen).toEqual({ parent: process.spanContext().spanId, recording: true })
          expect(parentOf(library)).toBe(process.spanContext().spanId)
          expect(library.spanContext().traceId).toBe(process.spanContext().traceId)

          // Not sampled (a parent-based sampler whose roots are off): the record's span records
          // nothing, and neither does the library's under it (it used to, as an orphan).
          const unsampled = yield* run(new ParentBasedSampler({ root: new AlwaysOffSampler() }))
          expect(unsampled.seen.parent).toBeDefined()
          expect(unsampled.seen.recording).toBe(false)
          expect(
            unsampled.spans.filter((s) => s.name === "library call" || s.name === `process ${unsampled.name}`)
          ).toEqual([])

          // The producer's trace not sampled (OpenTelemetry's default sampler, parent-based): the
          // record gets no span, and the library sees the producer's unsampled context.
          const producer = "4bf92f3577b34da6a3ce929d0e0e4736"
          const fromProducer = yield* run(undefined, `00-${producer}-00f067aa0ba902b7-00`)
          expect(fromProducer.seen).toEqual({ parent: "00f067aa0ba902b7", recording: false })
          expect(fromProducer.spans.filter((s) => s.name === "library call")).toEqual([])
        })
    )

    it.live(
      "O1 a record whose producer's trace is not sampled gets no span; what its handler sends carries the unsampled context on",
      () =>
        Effect.gen(function* () {
          const otel = tracing()
          const name = uniqueName("o1-unsampled")
          const out = `${name}.out`
          const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
          const outTopic = Topic.make({ name: out, key: Codec.string, value: Codec.string })
          const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
          let handled = 0
          const pipeline = Pipeline.make({
            topic,
            handler: (record) =>
              Effect.zipRight(
                Effect.flatMap(Producer.Producer, (p) => p.send(outTopic, [{ key: record.key, value: record.value }])),
                Effect.sync(() => handled++)
              )
          })
          yield* Effect.gen(function* () {
            const c = yield* TestCluster
            yield* c.createTopic(name, 1)
            yield* c.createTopic(out, 1)
            const header = (flags: string) => ({
              key: "traceparent",
              value: new TextEncoder().encode(`00-${traceId}-00f067aa0ba902b7-${flags}`)
            })
            yield* c.produce([
              {
                topic: name,
                partition: 0,
                key: new TextEncoder().encode("k"),
                value: new TextEncoder().encode("a"),
                headers: [header("00")]
              },
              {
                topic: name,
                partition: 0,
                key: new TextEncoder().encode("k"),
                value: new TextEncoder().encode("b"),
                headers: [header("01")]
              }
            ])
            const run = yield* Effect.fork(Pipeline.run(pipeline))
            yield* eventually(
              () => handled === 2 && named(otel.spans(), `process ${name}`).length === 1,
              "both handled"
            )
            yield* Fiber.interrupt(run)
            const sent = yield* c.readAll(out)
            const flags = sent.map((r) =>
              new TextDecoder().decode(r.headers.find((h) => h.key === "traceparent")!.value!).slice(-2)
            )
            expect(flags).toEqual(["00", "01"])
            expect(sent.every((r) => new TextDecoder().decode(r.headers[0]!.value!).includes(traceId))).toBe(true)
          }).pipe(Effect.provide(Layer.merge(cluster.services(uniqueName("o1-unsampled-group")), otel.layer)))
          const process = named(otel.spans(), `process ${name}`)
          expect(process.length).toBe(1)
          expect(process[0]!.attributes["messaging.kafka.offset"]).toBe(1)
        })
    )

    it.live(
      "O1 keyed mode, records side by side: the spans each handler makes are children of its own record's span, and its annotations land there",
      () =>
        Effect.gen(function* () {
          const otel = tracing()
          const name = uniqueName("o1-keyed")
          const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
          const values = ["a", "b", "c", "d", "e", "f", "g", "h"]
          let handled = 0
          const pipeline = Pipeline.make({
            topic,
            mode: ProcessingMode.keyed({ concurrency: 4 }),
            handler: (record) =>
              Effect.gen(function* () {
                yield* Effect.annotateCurrentSpan("order", record.value)
                // Records of different keys overlap: each sleeps while the others start.
                yield* Effect.sleep(`${10 + ((record.offset * 7) % 4) * 10} millis`)
                yield* Effect.void.pipe(Effect.withSpan("work", { attributes: { order: record.value } }))
                handled++
              })
          })
          yield* Effect.gen(function* () {
            yield* Effect.flatMap(TestCluster, (c) => c.createTopic(name, 1))
            yield* Effect.flatMap(Producer.Producer, (p) =>
              p.send(
                topic,
                values.map((value) => ({ key: value, value }))
              )
            )
            const run = yield* Effect.fork(Pipeline.run(pipeline))
            yield* eventually(() => handled === values.length, "every record handled")
            yield* eventually(() => named(otel.spans(), `process ${name}`).length === values.length, "the spans ended")
            yield* Fiber.interrupt(run)
          }).pipe(Effect.provide(Layer.merge(cluster.services(uniqueName("o1-keyed-group")), otel.layer)))

          const spans = otel.spans()
          const processes = named(spans, `process ${name}`)
          const works = named(spans, "work")
          expect(works.length).toBe(values.length)
          for (const value of values) {
            const process = processes.find((s) => s.attributes.order === value)
            expect(process, `the process span of ${value} carries its annotation`).toBeDefined()
            const work = works.find((s) => s.attributes.order === value)!
            expect(parentOf(work), `the work span of ${value}`).toBe(process!.spanContext().spanId)
            expect(work.spanContext().traceId).toBe(process!.spanContext().traceId)
          }
          // One send wrote the eight records: each record's span is a child of that send.
          const send = named(spans, `send ${name}`)[0]!
          expect(processes.every((s) => parentOf(s) === send.spanContext().spanId)).toBe(true)
          expect(new Set(processes.map((s) => s.spanContext().spanId)).size).toBe(values.length)
        })
    )

    it.live("O1 a pipeline run with tracing disabled makes no spans, with the application's tracer installed", () =>
      Effect.gen(function* () {
        // docs/observability.md: how to keep a consumer lean where OpenTelemetry traces the rest.
        const otel = tracing()
        const name = uniqueName("o1-untraced")
        const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
        let handled = 0
        const pipeline = Pipeline.make({
          topic,
          handler: () =>
            Effect.sync(() => {
              handled++
            }).pipe(Effect.withSpan("work"))
        })
        yield* Effect.gen(function* () {
          yield* Effect.flatMap(TestCluster, (c) => c.createTopic(name, 1))
          yield* Effect.flatMap(Producer.Producer, (p) =>
            p.send(topic, [
              { key: "k", value: "a" },
              { key: "k", value: "b" }
            ])
          )
          const run = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.withTracerEnabled(false)))
          yield* eventually(() => handled === 2, "the records handled")
          yield* Fiber.interrupt(run)
        }).pipe(Effect.provide(Layer.merge(cluster.services(uniqueName("o1-untraced-group")), otel.layer)))

        const spans = otel.spans()
        // The send, traced as usual, is the control: the tracer was there.
        expect(named(spans, `send ${name}`).length).toBe(1)
        expect(named(spans, `process ${name}`)).toEqual([])
        expect(named(spans, "work")).toEqual([])
        expect(named(spans, "Consumer.commit")).toEqual([])
      })
    )

    it.live(
      "O1 a record's span covers its handler and starts no earlier than its record arrived, in partition and keyed modes",
      () =>
        Effect.gen(function* () {
          // A lane's record span starts when the record before it ended if it follows at once
          // (no second clock read); after a wait for records it must read the clock again. Two
          // waves of records 150 ms apart tell the two apart: a second wave's span that reused
          // the first wave's end time would start before its record was even sent.
          // Times in milliseconds from the clock the spans read (Effect's), not `Date.now()`,
          // which may drift from it over a long test run.
          const millis = (time: readonly [number, number]) => time[0] * 1000 + time[1] / 1e6
          const now = Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos) / 1e6)
          const slack = 1
          for (const mode of [ProcessingMode.partition, ProcessingMode.keyed({ concurrency: 2 })]) {
            const otel = tracing()
            const name = uniqueName("o1-timing")
            const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
            /** When each record's handler ran, by value. */
            const ran = new Map<string, { readonly start: number; readonly end: number }>()
            const pipeline = Pipeline.make({
              topic,
              mode,
              handler: (record) =>
                Effect.gen(function* () {
                  const start = yield* now
                  yield* Effect.sleep("5 millis")
                  ran.set(record.value, { start, end: yield* now })
                })
            })
            const sentAt = new Map<string, number>()
            yield* Effect.gen(function* () {
              yield* Effect.flatMap(TestCluster, (c) => c.createTopic(name, 1))
              const producer = yield* Producer.Producer
              const wave = (values: ReadonlyArray<string>) =>
                Effect.flatMap(now, (at) => {
                  for (const value of values) sentAt.set(value, at)
                  return producer.send(
                    topic,
                    values.map((value) => ({ key: value, value }))
                  )
                })
              yield* wave(["a1", "a2", "a3", "a4"])
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              yield* eventually(() => ran.size === 4, "the first wave handled")
              yield* Effect.sleep("150 millis")
              yield* wave(["b1", "b2", "b3", "b4"])
              yield* eventually(() => ran.size === 8, "the second wave handled")
              yield* eventually(() => named(otel.spans(), `process ${name}`).length === 8, "the spans ended")
              yield* Fiber.interrupt(run)
            }).pipe(Effect.provide(Layer.merge(cluster.services(uniqueName("o1-timing-group")), otel.layer)))

            const spans = named(otel.spans(), `process ${name}`)
            expect(spans.length).toBe(8)
            for (const span of spans) {
              const value = span.attributes["messaging.kafka.message.key"] as string
              const handler = ran.get(value)!
              const start = millis(span.startTime)
              const end = millis(span.endTime)
              expect(start, `${value}'s span starts after its record was sent`).toBeGreaterThanOrEqual(
                sentAt.get(value)! - slack
              )
              expect(start, `${value}'s span starts before its handler`).toBeLessThanOrEqual(handler.start + slack)
              expect(end, `${value}'s span ends after its handler`).toBeGreaterThanOrEqual(handler.end - slack)
            }
          }
        })
    )

    it.live(
      "O1 record spans the tracer does not sample get no attributes made, and still end; sampled ones get them",
      () =>
        Effect.gen(function* () {
          for (const sampled of [false, true]) {
            // Of the record spans (`process <topic>`): the engine's own spans come on top.
            const counts = { spans: 0, attributes: 0, ended: 0 }
            // An Effect tracer whose spans say whether they are sampled, as an OpenTelemetry
            // tracer's do (its sampler's decision), and count what they are given.
            const counting = Tracer.make({
              span: (name, parent, context, links, startTime, kind) => {
                const record = name.startsWith("process ")
                if (record) counts.spans++
                return {
                  _tag: "Span",
                  name,
                  spanId: `${counts.spans}`.padStart(16, "0"),
                  traceId: "0af7651916cd43dd8448eb211c80319c",
                  parent,
                  context,
                  status: { _tag: "Started", startTime },
                  attributes: new Map(),
                  links,
                  sampled,
                  kind,
                  end: () => {
                    if (record) counts.ended++
                  },
                  attribute: () => {
                    if (record) counts.attributes++
                  },
                  event: () => {},
                  addLinks: () => {}
                }
              },
              context: (f) => f()
            })
            const name = uniqueName(`o1-sampled-${sampled}`)
            const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
            let handled = 0
            const pipeline = Pipeline.make({ topic, handler: () => Effect.sync(() => handled++) })
            yield* Effect.gen(function* () {
              yield* Effect.flatMap(TestCluster, (c) => c.createTopic(name, 1))
              yield* Effect.flatMap(Producer.Producer, (p) =>
                p.send(topic, [
                  { key: "k", value: "a" },
                  { key: "k", value: "b" },
                  { key: "k", value: "c" }
                ])
              ).pipe(Effect.withTracerEnabled(false))
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              yield* eventually(() => handled === 3, "the records handled")
              yield* Fiber.interrupt(run)
            }).pipe(
              Effect.provide(cluster.services(uniqueName(`o1-sampled-${sampled}-group`))),
              Effect.withTracer(counting)
            )
            // A span per record, every one ended.
            expect(counts.spans).toBe(3)
            expect(counts.ended).toBe(counts.spans)
            if (sampled) expect(counts.attributes).toBeGreaterThanOrEqual(3 * 6)
            else expect(counts.attributes).toBe(0)
          }
        })
    )

    it.live("O1 a record interrupted by the shutdown (its drain timed out): its span ends, marked interrupted", () =>
      Effect.gen(function* () {
        const otel = tracing()
        const name = uniqueName("o1-interrupted")
        const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
        let started = false
        const pipeline = Pipeline.make({
          topic,
          handler: () =>
            Effect.zipRight(
              Effect.sync(() => (started = true)),
              Effect.never
            )
        })
        yield* Effect.gen(function* () {
          yield* Effect.flatMap(TestCluster, (c) => c.createTopic(name, 1))
          yield* Effect.flatMap(Producer.Producer, (p) => p.send(topic, [{ key: "k", value: "stuck" }]))
          const run = yield* Effect.fork(Pipeline.run(pipeline))
          yield* eventually(() => started, "the handler started")
          yield* Fiber.interrupt(run)
        }).pipe(
          Effect.provide(
            Layer.merge(
              cluster.services(uniqueName("o1-interrupted-group"), { shutdownTimeout: "1 second" }),
              otel.layer
            )
          )
        )
        const process = named(otel.spans(), `process ${name}`)
        expect(process.length).toBe(1)
        expect(process[0]!.attributes["status.interrupted"]).toBe(true)
      })
    )

    it.live("O1 a batch pipeline's chunk span links the producing span of each of its records", () =>
      Effect.gen(function* () {
        const otel = tracing()
        const name = uniqueName("o1-batch")
        const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
        let rows = 0
        const pipeline = Pipeline.make({
          topic,
          batch: { size: 3, within: "2 seconds" },
          handler: (records) => Effect.sync(() => (rows += Chunk.size(records)))
        })
        yield* Effect.gen(function* () {
          yield* Effect.flatMap(TestCluster, (c) => c.createTopic(name, 1))
          for (const value of ["a", "b", "c"]) {
            yield* Effect.flatMap(Producer.Producer, (p) => p.send(topic, [{ key: value, value }])).pipe(
              Effect.withSpan(`produce ${value}`)
            )
          }
          const run = yield* Effect.fork(Pipeline.run(pipeline))
          yield* eventually(() => rows === 3 && named(otel.spans(), `process ${name}`).length > 0, "the chunk handled")
          yield* Fiber.interrupt(run)
        }).pipe(Effect.provide(Layer.merge(cluster.services(uniqueName("o1-batch-group")), otel.layer)))

        const spans = otel.spans()
        const chunk = named(spans, `process ${name}`)
        expect(chunk.length).toBe(1)
        const sends = named(spans, `send ${name}`).map((s) => s.spanContext().spanId)
        expect(chunk[0]!.links.map((l) => l.context.spanId).sort()).toEqual([...sends].sort())
        expect(chunk[0]!.attributes["messaging.batch.message_count"]).toBe(3)
      })
    )
  })
}
