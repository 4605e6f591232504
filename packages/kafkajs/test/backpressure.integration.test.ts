/**
 * G6 on a real broker through kafkajs: a partition paused for backpressure is fetched again as
 * soon as the engine resumes it. kafkajs's fetch, with every partition of a broker paused,
 * sleeps `maxWaitTime` on a timer a resume does not end (`idleFetch.ts`); without the driver's
 * wrapper the drained partition starved for the rest of that sleep.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerEvent } from "@sluice/core/ConsumerEvent"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { TestCluster } from "@sluice/testkit/TestCluster"
import { committedWhen, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as KafkaJs from "../src/KafkaJs.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

const broker = await brokerForTests()

const RECORDS = 60
/** kafkajs's idle sleep: long enough that a resume waiting it out shows as a gap of seconds. */
const MAX_WAIT_MS = 6_000
const HANDLER_MS = 20

describe.skipIf(broker === undefined)("backpressure on a real broker (kafkajs)", () => {
  const brokers = broker?.brokers ?? []

  it.live(
    "G6 a partition paused by a full buffer is fetched again as soon as it resumes, not after kafkajs's idle wait",
    () =>
      Effect.gen(function* () {
        const cluster = yield* TestCluster
        const topic = uniqueName("sluice-resume")
        const groupId = uniqueName("sluice-resume-group")
        yield* cluster.createTopic(topic, 1)
        // One send per record: the broker returns whole record batches, at least one past the
        // fetch's byte limit, so one batch of all records would be one fetch.
        for (let i = 0; i < RECORDS; i++) {
          yield* cluster.produce([
            { topic, partition: 0, key: null, value: new TextEncoder().encode(`${i}`.padStart(100, "0")), headers: [] }
          ])
        }
        // About ten records per fetch, a buffer of ten: each fetch fills it, pausing the only
        // partition; draining half of it resumes it.
        const settings = yield* ConsumerSettings.make({
          groupId,
          buffer: { perPartition: 10, total: 100 },
          maxBytesPerPartition: 1_500,
          commitInterval: "100 millis"
        })
        const consumer = yield* Consumer.make(settings)
        const events: Array<ConsumerEvent> = []
        const watcher = yield* Effect.forkDaemon(
          Stream.runForEach(consumer.events, (e) => Effect.sync(() => events.push(e)))
        )
        const starts: Array<number> = []
        const fiber = yield* Effect.forkDaemon(
          consumer.run({
            topics: [topic],
            handler: () =>
              Effect.zipRight(
                Effect.sync(() => starts.push(Date.now())),
                Effect.sleep(HANDLER_MS)
              )
          })
        )
        yield* committedWhen(groupId, topic, (c) => c.get(0) === RECORDS, 600)
        yield* Fiber.interrupt(fiber)
        yield* Fiber.interrupt(watcher)

        const resumes = events.filter((e) => e._tag === "Resumed").length
        expect(events.filter((e) => e._tag === "Paused").length).toBeGreaterThanOrEqual(2)
        expect(resumes).toBeGreaterThanOrEqual(2)
        // The handler runs back to back while records keep coming: the longest wait between two
        // starts is a fetch's round trip, far below the idle sleep each resume used to wait out.
        const gaps = starts.slice(1).map((t, i) => t - starts[i]!)
        const longest = Math.max(...gaps)
        expect(starts).toHaveLength(RECORDS)
        expect(longest, `longest gap between handlers ${longest} ms over ${resumes} resumes`).toBeLessThan(
          MAX_WAIT_MS / 3
        )
      }).pipe(
        Effect.provide(
          Layer.merge(
            KafkaJs.layer({
              brokers,
              groupId: uniqueName("sluice-unused-group"),
              logLevel: "error",
              maxWaitTime: `${MAX_WAIT_MS} millis`
            }),
            KafkaJsTestCluster.layer(brokers)
          )
        ),
        Effect.scoped
      ),
    120_000
  )
})
