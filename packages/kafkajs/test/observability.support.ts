/**
 * What the observability tests (O1–O3) share: the two clusters they run on (the simulated one
 * and the real broker through kafkajs) behind one `services` function, and an OpenTelemetry
 * tracer with an in-memory exporter, installed through `@effect/opentelemetry`.
 */
import * as Resource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import type { BrokerInfo } from "@sluice/testkit/KafkaBroker"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import type { Cluster } from "@sluice/testkit/MetricsConformance"
import * as Layer from "effect/Layer"
import * as KafkaJs from "../src/KafkaJs.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

export type { Cluster, Services } from "@sluice/testkit/MetricsConformance"

const quick = { commitInterval: "100 millis", sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" } as const

export const simulated: Cluster = {
  name: "simulated cluster",
  services: (groupId, settings = {}) => MemoryKafka.layerClient({ groupId, ...quick, ...settings })
}

export const realBroker = (broker: BrokerInfo): Cluster => ({
  name: "real broker",
  services: (groupId, settings = {}) =>
    Layer.merge(
      KafkaJs.layer({ brokers: broker.brokers, groupId, logLevel: "error", ...quick, ...settings }),
      KafkaJsTestCluster.layer(broker.brokers)
    )
})

/** An OpenTelemetry tracer exporting every span to `exporter`, as Effect's tracer. */
export const tracing = () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const layer = OtelTracer.layer.pipe(
    Layer.provide(Resource.layer({ serviceName: "sluice-test" })),
    Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider))
  )
  const spans = (): ReadonlyArray<ReadableSpan> => exporter.getFinishedSpans()
  return { exporter, layer, spans }
}

/** The id of a span's parent (OpenTelemetry SDK 2: `parentSpanContext`). */
export const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId
