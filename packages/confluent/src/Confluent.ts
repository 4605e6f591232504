/**
 * Everything a program needs from Kafka, on librdkafka, in one layer: the `Consumer`,
 * `Producer` and `Admin` services with the drivers under them (`ConsumerDriver`,
 * `ProducerDriver`, `TransactionalProducerDriver` for exactly-once pipelines), from one options object (`layer`) or from the environment (`layerConfig`,
 * every setting under `KAFKA_`), with the same shape as `@sluice/kafkajs`'s `KafkaJs`.
 *
 * Every setting is checked before anything connects: a bad one fails the layer with a
 * `SettingsError` naming it.
 *
 * @example
 * ```ts
 * import { Pipeline, Topic } from "@sluice/core"
 * import { Confluent } from "@sluice/confluent"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * const audit = Pipeline.make({ topic: Topic.make({ name: "audit" }), handler: (r) => Effect.log(r.offset) })
 *
 * // KAFKA_BROKERS=127.0.0.1:9092 KAFKA_GROUP_ID=audit KAFKA_GROUP_PROTOCOL=consumer node main.js
 * Pipeline.layer(audit).pipe(Layer.provide(Confluent.layerConfig()), Layer.launch, NodeRuntime.runMain)
 *
 * // Or in code: KIP-848, one static member per host.
 * const KafkaLive = Confluent.layer({
 *   brokers: ["127.0.0.1:9092"],
 *   groupId: "audit",
 *   groupProtocol: "consumer",
 *   groupInstanceId: `audit-${process.env.HOSTNAME}`
 * })
 * ```
 *
 * @since 0.2.0
 */
import type { AdminError } from "@sluice/core/Admin"
import * as ClientLayer from "@sluice/core/ClientLayer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import type * as KafkaError from "@sluice/core/KafkaError"
import type { SettingsError } from "@sluice/core/SettingsError"
import type { TransactionalProducerDriver } from "@sluice/core/TransactionalProducerDriver"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ConfluentAdmin from "./ConfluentAdmin.js"
import * as ConfluentConfig from "./ConfluentConfig.js"
import * as ConfluentDriver from "./ConfluentDriver.js"
import * as ConfluentProducer from "./ConfluentProducer.js"
import * as ConfluentTransactional from "./ConfluentTransactional.js"

/**
 * All settings in one object: the connection (`ConfluentConfig`: `brokers`, `clientId`, `ssl`,
 * `sasl`, timeouts, `logLevel`, further `librdkafka` properties), the consumer
 * (`ConsumerSettings.Input`: `groupId`, commits, buffers, revocation, session), the consumer
 * driver's (`ConfluentDriver.ConsumerOptions`: group protocol, assignor, static membership, …)
 * the producer's (`ConfluentProducer.ProducerOptions`) and the transactional producer's
 * (`ConfluentTransactional.TransactionalOptions`). Only `brokers` and `groupId` are
 * required.
 *
 * @since 0.2.0
 */
export interface Options
  extends ConfluentConfig.ConfluentConfig,
    ConsumerSettings.Input,
    ConfluentDriver.ConsumerOptions,
    ConfluentProducer.ProducerOptions,
    ConfluentTransactional.TransactionalOptions {}

/**
 * What the layer provides.
 *
 * @since 0.2.0
 */
export type Services = ClientLayer.Services | TransactionalProducerDriver

/**
 * The services from `options`. Checks every setting first (a `SettingsError` before anything
 * connects), then connects the producer (a `KafkaError` when the brokers cannot be reached)
 * and creates the admin client; the consumer connects when it runs.
 *
 * @since 0.2.0
 */
export const layer = (options: Options): Layer.Layer<Services, SettingsError | KafkaError.KafkaError | AdminError> =>
  // Everything is checked before the producer connects, so that a bad setting fails at once
  // even when the brokers cannot be reached (the transactional driver connects a producer per
  // partition of an exactly-once pipeline only).
  Layer.merge(
    ClientLayer.make(options, {
      validate: ConfluentDriver.make(options, options),
      consumerDriver: ConfluentDriver.layer(options, options),
      producerDriver: ConfluentProducer.layer(options, options),
      admin: ConfluentAdmin.layer(options)
    }),
    ConfluentTransactional.layer(options, options)
  )

/**
 * Reads every setting of `Options` from configuration (the environment by default): the
 * connection (`ConfluentConfig.config`), the consumer (`ConsumerSettings.config`), the
 * consumer driver (`ConfluentDriver.config`), the producer (`ConfluentProducer.config`) and the
 * transactional producer (`ConfluentTransactional.config`), all under `KAFKA_`.
 *
 * @since 0.2.0
 */
export const config: Config.Config<Options> = Config.map(
  Config.all([
    ClientLayer.config(
      ConfluentConfig.config,
      ConsumerSettings.config,
      ConfluentDriver.config,
      ConfluentProducer.config
    ),
    ConfluentTransactional.config
  ]),
  ([client, transactional]): Options => ({ ...client, ...transactional })
)

/**
 * `layer` with its options read from `config` (by default the environment, see `config`).
 * Missing `KAFKA_BROKERS` or `KAFKA_GROUP_ID` is a `ConfigError`; a bad value, a
 * `SettingsError` naming the setting.
 *
 * @since 0.2.0
 */
export const layerConfig = (
  source: Config.Config<Options> = config
): Layer.Layer<Services, SettingsError | KafkaError.KafkaError | AdminError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(source, layer))
