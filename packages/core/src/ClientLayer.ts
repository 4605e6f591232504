/**
 * The one layer every driver package offers (`KafkaJs.layer`, `Confluent.layer`), assembled
 * alike: the settings checked before anything connects, then the `Consumer`, `Producer` and
 * `Admin` services over the driver's consumer and producer drivers and admin.
 *
 * @since 0.2.0
 */

import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Admin } from "./Admin.js"
import * as Consumer from "./Consumer.js"
import type { ConsumerDriver } from "./ConsumerDriver.js"
import * as ConsumerSettings from "./ConsumerSettings.js"
import * as Producer from "./Producer.js"
import type { ProducerDriver } from "./ProducerDriver.js"
import type { SettingsError } from "./SettingsError.js"

/**
 * What a driver's one layer provides.
 *
 * @since 0.2.0
 */
export type Services = Consumer.Consumer | Producer.Producer | Admin | ConsumerDriver | ProducerDriver

/**
 * The one layer from a driver's parts: `validate` (the driver's own checks) and the consumer
 * settings in `options` are checked first, so that a bad setting fails with a `SettingsError`
 * even when the brokers cannot be reached; then the drivers and the admin are built and the
 * services put over them.
 *
 * @example
 * ```ts
 * import * as ClientLayer from "@sluice/core/ClientLayer"
 * import type { Admin } from "@sluice/core/Admin"
 * import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
 * import type { ProducerDriver } from "@sluice/core/ProducerDriver"
 * import * as Effect from "effect/Effect"
 * import type * as Layer from "effect/Layer"
 *
 * declare const consumerDriver: Layer.Layer<ConsumerDriver>
 * declare const producerDriver: Layer.Layer<ProducerDriver>
 * declare const admin: Layer.Layer<Admin>
 * const KafkaLive = ClientLayer.make({ groupId: "billing" }, { validate: Effect.void, consumerDriver, producerDriver, admin })
 * ```
 *
 * @since 0.2.0
 */
export const make = <E1, E2, E3>(
  options: ConsumerSettings.Input,
  parts: {
    readonly validate: Effect.Effect<unknown, SettingsError>
    readonly consumerDriver: Layer.Layer<ConsumerDriver, E1>
    readonly producerDriver: Layer.Layer<ProducerDriver, E2>
    readonly admin: Layer.Layer<Admin, E3>
  }
): Layer.Layer<Services, SettingsError | E1 | E2 | E3> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      yield* parts.validate
      const settings = yield* ConsumerSettings.make(options)
      const services = Layer.mergeAll(
        Layer.effect(Consumer.Consumer, Consumer.make(settings)),
        Producer.layer,
        parts.admin
      )
      return Layer.provideMerge(services, Layer.merge(parts.consumerDriver, parts.producerDriver))
    })
  )

/**
 * One `Config` of the one layer's options from the readers of its parts: the connection, the
 * consumer settings, the consumer driver's and the producer driver's options, merged.
 *
 * @example
 * ```ts
 * import * as ClientConfig from "@sluice/core/ClientConfig"
 * import * as ClientLayer from "@sluice/core/ClientLayer"
 * import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
 * import * as Config from "effect/Config"
 *
 * const options = ClientLayer.config(ClientConfig.config, ConsumerSettings.config, Config.succeed({}), Config.succeed({}))
 * ```
 *
 * @since 0.2.0
 */
export const config = <A extends object, B extends object, C extends object, D extends object>(
  connection: Config.Config<A>,
  settings: Config.Config<B>,
  consumer: Config.Config<C>,
  producer: Config.Config<D>
): Config.Config<A & B & C & D> =>
  Config.map(
    Config.all([connection, settings, consumer, producer]),
    ([a, b, c, d]) => ({ ...a, ...b, ...c, ...d }) as A & B & C & D
  )
