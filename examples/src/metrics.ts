/**
 * `pnpm exec tsx examples/src/metrics.ts`: Sluice's metrics served on `/metrics` in Prometheus
 * format while a pipeline runs. Sluice reports Effect `Metric`s; `@effect/opentelemetry`'s
 * metrics bridge hands them to OpenTelemetry's Prometheus exporter, which serves them
 * (`METRICS_PORT`, 9464 by default). Every record metric is tagged `group`, `topic`,
 * `partition`; docs/observability.md lists them.
 *
 * ```sh
 * curl -s localhost:9464/metrics | grep sluice_consumer_lag
 * ```
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import * as Codec from "@sluice/core/Codec"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Runner from "./internal/Runner.js"

export const payments = Topic.make({ name: Runner.named("payments"), key: Codec.string, value: Codec.string })
export const groupId = Runner.named("payments-metrics")

/** The Prometheus endpoint: Effect's metrics through OpenTelemetry, scraped at `http://host:port/metrics`. */
export const prometheus = (port: number) =>
  OtelMetrics.layer(() => new PrometheusExporter({ port, endpoint: "/metrics" })).pipe(
    Layer.provide(Resource.layer({ serviceName: "payments" }))
  )

/** Declined payments are retried twice, then dead-lettered. */
const pipeline = (paid: () => Effect.Effect<void>) =>
  Pipeline.make({
    topic: payments,
    handler: (record) =>
      record.value === "declined" ? Effect.fail(new Error(`payment ${record.key} declined`)) : paid(),
    policy: ErrorPolicy.retry(Schedule.recurs(2), ErrorPolicy.deadLetter(`${payments.name}.dlq`))
  })

/**
 * Produces `count` payments (every tenth declined), handles them all and keeps serving the
 * metrics until `stop` completes.
 */
export const program = <E>(count: number, stop: Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    yield* Runner.createTopics([
      { name: payments.name, partitions: 3 },
      { name: `${payments.name}.dlq`, partitions: 1 }
    ])
    const producer = yield* Producer.Producer
    yield* producer.send(
      payments,
      Array.from({ length: count }, (_, i) => ({ key: `p-${i}`, value: i % 10 === 9 ? "declined" : "paid" }))
    )
    yield* Effect.raceFirst(Pipeline.run(pipeline(() => Effect.void)), stop)
  })

const port = Number(process.env.METRICS_PORT ?? 9464)

Runner.runMain(
  import.meta.url,
  Effect.zipRight(
    Effect.log(`metrics on http://localhost:${port}/metrics (Ctrl-C stops)`),
    program(1_000, Effect.never)
  ).pipe(Effect.provide(Layer.merge(Runner.kafka({ groupId, metricsInterval: "1 second" }), prometheus(port))))
)
