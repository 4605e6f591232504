/**
 * `pnpm exec tsx examples/src/health.ts`: readiness and liveness probes for a consumer, served
 * with `@effect/platform`'s HTTP server while a pipeline runs (`HEALTH_PORT`, 8080 by default).
 * `/ready` answers 200 once every group member holds its assignment, `/health` 200 while the
 * consumer is live (fetching, heartbeating, not stuck in a rebalance, no record stuck: the
 * pipeline's `stallTimeout` reports a shipment in flight for 30 s, and one stuck for longer
 * than `stalledWithin` makes the consumer not live, so that the pod is restarted); both 503
 * otherwise, and both carry the whole `Consumer.health()` as JSON. docs/observability.md has
 * the rules.
 *
 * ```sh
 * curl -s localhost:8080/ready; curl -s localhost:8080/health
 * ```
 *
 * A Kubernetes pod points its probes at them:
 *
 * ```yaml
 * readinessProbe: { httpGet: { path: /ready, port: 8080 } }
 * livenessProbe: { httpGet: { path: /health, port: 8080 }, periodSeconds: 10, failureThreshold: 3 }
 * ```
 */
import { createServer } from "node:http"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import type * as Health from "@sluice/core/Health"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runner from "./internal/Runner.js"

export const shipments = Topic.make({ name: Runner.named("shipments"), key: Codec.string, value: Codec.string })
export const groupId = Runner.named("shipments-probes")

/** A probe's answer: 200 when `verdict` holds, else 503; the health as the body either way. */
const probe = (verdict: (health: Health.Health) => boolean, rules?: Partial<Health.Rules>) =>
  Effect.map(Consumer.health(rules), (health) =>
    HttpServerResponse.unsafeJson(health, { status: verdict(health) ? 200 : 503 })
  )

/** `/ready` and `/health` for the consumer in context. */
export const probes = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/ready",
    probe((health) => health.ready)
  ),
  HttpRouter.get(
    "/health",
    probe((health) => health.live, { fetchWithin: "60 seconds", stalledWithin: "5 minutes" })
  )
)

/** The probes served on `port` (0: any free port) for as long as the layer lives. */
export const server = (port: number) =>
  HttpServer.serve(probes).pipe(
    HttpServer.withLogAddress,
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port }))
  )

/** Produces `count` shipments and runs the pipeline until `stop` completes. */
export const program = <E>(count: number, stop: Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    yield* Runner.createTopics([{ name: shipments.name, partitions: 3 }])
    const producer = yield* Producer.Producer
    yield* producer.send(
      shipments,
      Array.from({ length: count }, (_, i) => ({ key: `s-${i}`, value: "packed" }))
    )
    const pipeline = Pipeline.make({ topic: shipments, handler: () => Effect.void, stallTimeout: "30 seconds" })
    yield* Effect.raceFirst(Pipeline.run(pipeline), stop)
  })

const port = Number(process.env.HEALTH_PORT ?? 8080)

Runner.runMain(
  import.meta.url,
  program(1_000, Effect.never).pipe(Effect.provide(server(port).pipe(Layer.provideMerge(Runner.kafka({ groupId })))))
)
