import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import type * as Admin from "@sluice/core/Admin"
import type * as Consumer from "@sluice/core/Consumer"
import type * as Health from "@sluice/core/Health"
import type * as Producer from "@sluice/core/Producer"
import * as KafkaJs from "@sluice/kafkajs/KafkaJs"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { groupId, program, server, shipments } from "../src/health.js"

const broker = await brokerForTests()

/** GET `path`: the status and the health in the body. */
const get = (port: number, path: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, health: (await response.json()) as Health.Health }
  })

/** Polls `path` until `predicate` holds (60 s at most). */
const getWhen = (
  port: number,
  path: string,
  what: string,
  predicate: (r: { status: number; health: Health.Health }) => boolean
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 60_000
    for (;;) {
      const answer = yield* get(port, path)
      if (predicate(answer)) return answer
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("50 millis")
    }
  })

/**
 * The probes before, during and after a run: /ready 503 until the member holds its three
 * partitions, then 200; /health 200 throughout the run; both 503 once the run stopped.
 */
const probesThroughARun = <ROut, E>(
  kafka: Layer.Layer<ROut | Consumer.Consumer | Producer.Producer | Admin.Admin, E>
) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(server(0).pipe(Layer.provideMerge(kafka)))
    const address = Context.unsafeGet(context, HttpServer.HttpServer).address
    const port = address._tag === "TcpAddress" ? address.port : 0

    const before = yield* get(port, "/ready")
    expect(before.status).toBe(503)
    expect(before.health).toEqual({
      ready: false,
      live: true,
      problems: ["not ready: no consumer run started"],
      members: []
    })
    expect((yield* get(port, "/health")).status).toBe(200)

    const stop = yield* Deferred.make<void>()
    const run = yield* Effect.fork(program(30, Deferred.await(stop)).pipe(Effect.provide(context)))
    const ready = yield* getWhen(port, "/ready", "ready", (r) => r.status === 200)
    const member = ready.health.members[0]!
    expect(member).toMatchObject({ groupId, topics: [shipments.name], state: "stable", ready: true, live: true })
    expect(member.assigned.map((tp) => tp.partition)).toEqual([0, 1, 2])
    const live = yield* get(port, "/health")
    expect(live.status).toBe(200)
    expect(live.health.live).toBe(true)

    yield* Deferred.succeed(stop, undefined)
    yield* Fiber.join(run)
    const after = yield* get(port, "/ready")
    expect(after.status).toBe(503)
    expect(after.health.members[0]?.state).toBe("stopped")
    const dead = yield* get(port, "/health")
    expect(dead.status).toBe(503)
    expect(dead.health.problems[0]).toMatch(new RegExp(`^${groupId}: not ready: stopped for`))
  })

describe("health example", () => {
  it.scopedLive("O4 /ready and /health follow the consumer through a run (simulated cluster)", () =>
    probesThroughARun(MemoryKafka.layerClient({ groupId, commitInterval: "50 millis" }))
  )

  it.scopedLive.skipIf(broker === undefined)(
    "O4 /ready and /health follow the consumer through a run (real broker, kafkajs)",
    () =>
      probesThroughARun(
        KafkaJs.layer({
          brokers: broker?.brokers ?? [],
          groupId,
          clientId: "sluice-health-example",
          logLevel: "error",
          sessionTimeout: "6 seconds",
          heartbeatInterval: "500 millis"
        })
      ),
    120_000
  )
})
