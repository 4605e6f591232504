import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ConfluentConfig from "../src/ConfluentConfig.js"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as Properties from "../src/internal/properties.js"
import { subscription as fixture } from "./support.js"

const subscription = fixture()

const config = ConfluentConfig.resolve({ brokers: ["a:1", "b:2"] })

const refused = (config: ConfluentConfig.ConfluentConfig, options: ConfluentDriver.ConsumerOptions = {}) =>
  Effect.flip(ConfluentDriver.make(config, options))

describe("ConfluentDriver settings", () => {
  it.effect("the consumer protocol refuses the classic assignor, the classic protocol the remote one", () =>
    Effect.gen(function* () {
      const assignor = yield* refused({ brokers: ["a:1"] }, { groupProtocol: "consumer", assignor: "range" })
      expect(assignor).toMatchObject({ _tag: "SettingsError", setting: "assignor" })
      expect(assignor.message).toContain("KIP-848")
      const remote = yield* refused({ brokers: ["a:1"] }, { remoteAssignor: "uniform" })
      expect(remote).toMatchObject({ _tag: "SettingsError", setting: "remoteAssignor" })
      expect((yield* refused({ brokers: ["a:1"] }, { batchSize: 0 })).setting).toBe("batchSize")
    })
  )

  it.effect("librdkafka properties the consumer protocol ignores, or the driver sets, are refused by name", () =>
    Effect.gen(function* () {
      const ignored = yield* refused(
        { brokers: ["a:1"], librdkafka: { "session.timeout.ms": 6000 } },
        { groupProtocol: "consumer" }
      )
      expect(ignored).toMatchObject({ _tag: "SettingsError", setting: 'librdkafka["session.timeout.ms"]' })
      expect(ignored.message).toContain("consumer group protocol")
      const owned = yield* refused({ brokers: ["a:1"], librdkafka: { "enable.auto.commit": true } })
      expect(owned.setting).toBe('librdkafka["enable.auto.commit"]')
      const driver = yield* ConfluentDriver.make({ brokers: ["a:1"], librdkafka: { "statistics.interval.ms": 1000 } })
      expect(driver.name).toBe("confluent")
    })
  )

  it.effect("classic cooperative-sticky is the default; only the classic protocol sends session settings", () =>
    Effect.gen(function* () {
      const classic = yield* ConfluentDriver.resolveOptions()
      expect(Properties.isEager(classic)).toBe(false)
      const properties = Properties.consumer(config, subscription, classic)
      expect(properties).toMatchObject({
        "bootstrap.servers": "a:1,b:2",
        "client.id": "c",
        "group.id": "g",
        "group.protocol": "classic",
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 500,
        "max.poll.interval.ms": 60_000,
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
        "isolation.level": "read_committed"
      })
      expect(Properties.consumerTopic(subscription)).toEqual({ "auto.offset.reset": "earliest" })

      const kip848 = yield* ConfluentDriver.resolveOptions({ groupProtocol: "consumer" })
      expect(Properties.consumer(config, subscription, kip848)["group.instance.id"]).toBeUndefined()
      // Static membership comes with each subscription (the consumer settings' groupInstanceId).
      const next = Properties.consumer(config, fixture({ groupInstanceId: "i-1" }), kip848)
      expect(next["group.protocol"]).toBe("consumer")
      expect(next["group.instance.id"]).toBe("i-1")
      for (const key of ["session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy"]) {
        expect(next).not.toHaveProperty(key)
      }
      expect(Properties.isEager(yield* ConfluentDriver.resolveOptions({ assignor: "range" }))).toBe(true)
    })
  )

  it.effect(
    "a partition whose prefetch is full waits 100 ms for its next fetch, not librdkafka's 1 s; settable, checked",
    () =>
      Effect.gen(function* () {
        const defaults = Properties.consumer(config, subscription, yield* ConfluentDriver.resolveOptions())
        expect(defaults["fetch.queue.backoff.ms"]).toBe(100)
        const set = yield* ConfluentDriver.resolveOptions({ fetchQueueBackoff: "20 millis" })
        expect(Properties.consumer(config, subscription, set)["fetch.queue.backoff.ms"]).toBe(20)
        const bad = yield* Effect.flip(ConfluentDriver.resolveOptions({ fetchQueueBackoff: "soon" as never }))
        expect(bad).toMatchObject({ _tag: "SettingsError", setting: "fetchQueueBackoff" })
        const owned = yield* refused({ brokers: ["a:1"], librdkafka: { "fetch.queue.backoff.ms": 1000 } })
        expect(owned.setting).toBe('librdkafka["fetch.queue.backoff.ms"]')
        const fromEnv = yield* ConfluentDriver.config.pipe(
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["KAFKA_FETCH_QUEUE_BACKOFF", "250 millis"]]), { pathDelim: "_" })
          )
        )
        const resolved = yield* ConfluentDriver.resolveOptions(fromEnv)
        expect(Duration.toMillis(resolved.fetchQueueBackoff)).toBe(250)
      })
  )

  it("the producer partitions keys like Java and kafkajs, waits for all replicas, and is idempotent", () => {
    expect(Properties.producer(config, { idempotent: true })).toMatchObject({
      partitioner: "murmur2_random",
      acks: "all",
      "enable.idempotence": true,
      dr_cb: true
    })
    expect(Properties.refusedForProducer({ brokers: ["a:1"], librdkafka: { acks: 1 } })?.setting).toBe(
      'librdkafka["acks"]'
    )
  })
})
