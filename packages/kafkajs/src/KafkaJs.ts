/**
 * Everything a program needs from Kafka, on kafkajs, in one layer: the `Consumer`, `Producer`
 * and `Admin` services with the drivers under them (`ConsumerDriver`, `ProducerDriver`,
 * `TransactionalProducerDriver` for exactly-once pipelines),
 * from one options object (`layer`) or from the environment (`layerConfig`, every setting
 * under `KAFKA_`: docs/configuration.md has the table).
 *
 * Every setting is checked before anything connects: a bad one fails the layer with a
 * `SettingsError` naming it.
 *
 * @example
 * ```ts
 * import { Pipeline, Topic } from "@sluice/core"
 * import { KafkaJs } from "@sluice/kafkajs"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * const audit = Pipeline.make({ topic: Topic.make({ name: "audit" }), handler: (r) => Effect.log(r.offset) })
 *
 * // KAFKA_BROKERS=127.0.0.1:9092 KAFKA_GROUP_ID=audit node main.js
 * Pipeline.layer(audit).pipe(Layer.provide(KafkaJs.layerConfig()), Layer.launch, NodeRuntime.runMain)
 *
 * // Or in code:
 * const KafkaLive = KafkaJs.layer({ brokers: ["127.0.0.1:9092"], groupId: "audit", commitInterval: "2 seconds" })
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
import * as Validate from "@sluice/core/Validate"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as KafkaJsAdmin from "./KafkaJsAdmin.js"
import * as KafkaJsConfig from "./KafkaJsConfig.js"
import * as KafkaJsDriver from "./KafkaJsDriver.js"
import * as KafkaJsProducer from "./KafkaJsProducer.js"
import * as KafkaJsTransactional from "./KafkaJsTransactional.js"

/**
 * All settings in one object: the connection (`KafkaJsConfig`: `brokers`, `clientId`, `ssl`,
 * `sasl`, timeouts, retries, `logLevel`), the consumer (`ConsumerSettings.Input`: `groupId`,
 * commits, buffers, revocation, session), the consumer driver's tunables
 * (`KafkaJsDriver.ConsumerOptions`) and the producer's (`KafkaJsProducer.ProducerOptions`).
 * Only `brokers` and `groupId` are required.
 *
 * @since 0.2.0
 */
export interface Options
  extends KafkaJsConfig.KafkaJsConfig,
    ConsumerSettings.Input,
    KafkaJsDriver.ConsumerOptions,
    KafkaJsProducer.ProducerOptions,
    KafkaJsTransactional.TransactionalOptions {}

/**
 * What the layer provides.
 *
 * @since 0.2.0
 */
export type Services = ClientLayer.Services | TransactionalProducerDriver

/**
 * The services from `options`. Checks every setting first (a `SettingsError` before anything
 * connects), then connects the producer (a `KafkaError` when the brokers cannot be reached)
 * and the admin client (an `AdminError`); the consumer connects when it runs.
 *
 * @since 0.2.0
 */
export const layer = (options: Options): Layer.Layer<Services, SettingsError | KafkaError.KafkaError | AdminError> =>
  // Everything is checked before the producer connects, so that a bad setting fails at once
  // even when the brokers cannot be reached (the transactional driver connects at its first use).
  Layer.merge(
    ClientLayer.make(options, {
      validate: Effect.all([
        KafkaJsConfig.validate(options),
        KafkaJsDriver.validateOptions(options),
        options.groupInstanceId === undefined
          ? Effect.void
          : Validate.fail(
              "groupInstanceId",
              "groupInstanceId: kafkajs cannot be a static member; use @sluice/confluent, or leave groupInstanceId out"
            )
      ]),
      consumerDriver: KafkaJsDriver.layer(options, options),
      producerDriver: KafkaJsProducer.layer(options, options),
      admin: KafkaJsAdmin.layer(options)
    }),
    KafkaJsTransactional.layer(options, options)
  )

/**
 * Reads every setting of `Options` from configuration (the environment by default): the
 * connection (`KafkaJsConfig.config`), the consumer (`ConsumerSettings.config`), the consumer
 * driver (`KafkaJsDriver.config`) and the producer (`KafkaJsProducer.config`), all under
 * `KAFKA_`.
 *
 * @since 0.2.0
 */
export const config: Config.Config<Options> = Config.map(
  Config.all([
    ClientLayer.config(KafkaJsConfig.config, ConsumerSettings.config, KafkaJsDriver.config, KafkaJsProducer.config),
    KafkaJsTransactional.config
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
