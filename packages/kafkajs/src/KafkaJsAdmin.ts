/**
 * The `Admin` service on kafkajs 2.2.4: topics, groups, lag and offset resets through one
 * kafkajs admin client, connected when the layer is built and disconnected with its scope.
 * kafkajs's failures are translated into `AdminError` reasons (`TOPIC_ALREADY_EXISTS` →
 * `TopicExists`, `UNKNOWN_TOPIC_OR_PARTITION` → `UnknownTopic`, the `INVALID_*` errors →
 * `InvalidArgument`, authorization failures → `Unauthorized`, connection errors →
 * `Connection`, …).
 *
 * @example
 * ```ts
 * import * as Admin from "@sluice/core/Admin"
 * import * as KafkaJsAdmin from "@sluice/kafkajs/KafkaJsAdmin"
 * import * as Effect from "effect/Effect"
 *
 * const lag = Effect.gen(function* () {
 *   const admin = yield* Admin.Admin
 *   return (yield* admin.describeGroup("billing")).lag
 * }).pipe(Effect.provide(KafkaJsAdmin.layer({ brokers: ["127.0.0.1:9092"] })))
 * ```
 *
 * @since 0.2.0
 */
import { Admin, type AdminError, make as makeAdmin } from "@sluice/core/Admin"
import type { SettingsError } from "@sluice/core/SettingsError"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { primitives } from "./internal/admin.js"
import { toAdminError } from "./internal/adminError.js"
import { makeKafka } from "./internal/client.js"
import * as KafkaJsConfig from "./KafkaJsConfig.js"

/**
 * Connects an admin client in the current scope; the scope's end disconnects it. Fails with
 * an `AdminError` (reason `Connection`, …) when the brokers cannot be reached.
 *
 * @since 0.2.0
 */
export const make = (
  config: KafkaJsConfig.KafkaJsConfig
): Effect.Effect<Admin["Type"], AdminError | SettingsError, Scope.Scope> =>
  Effect.gen(function* () {
    const resolved = yield* KafkaJsConfig.validate(config)
    const runtime = yield* Effect.runtime<never>()
    const kafka = makeKafka(resolved, resolved.clientId, runtime)
    const client = kafka.admin()
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => client.connect(),
        catch: (error) => toAdminError(error, "KafkaJsAdmin.connect")
      }),
      () =>
        Effect.tryPromise({
          try: () => client.disconnect(),
          catch: (error) => toAdminError(error, "KafkaJsAdmin.disconnect")
        }).pipe(Effect.catchAll((error) => Effect.logWarning("Sluice: kafkajs admin disconnect failed", error)))
    )
    return makeAdmin(primitives(kafka, client, resolved))
  })

/**
 * The admin service on the brokers `config` names.
 *
 * @since 0.2.0
 */
export const layer = (config: KafkaJsConfig.KafkaJsConfig): Layer.Layer<Admin, AdminError | SettingsError> =>
  Layer.scoped(Admin, make(config))

/**
 * The admin service with its connection settings read from `config` (by default the
 * environment: `KAFKA_BROKERS`, `KAFKA_CLIENT_ID`, … see `KafkaJsConfig.config`).
 *
 * @since 0.2.0
 */
export const layerConfig = (
  config: Config.Config<KafkaJsConfig.KafkaJsConfig> = KafkaJsConfig.config
): Layer.Layer<Admin, AdminError | SettingsError | ConfigError.ConfigError> =>
  Layer.scoped(Admin, Effect.flatMap(config, make))
