/**
 * The `Admin` service on the client's native `AdminClient` (librdkafka): topics, groups, lag
 * and offset resets, through one admin client created when the layer is built and disconnected
 * with its scope. librdkafka's error codes are translated into `AdminError` reasons
 * (`TOPIC_ALREADY_EXISTS` → `TopicExists`, `UNKNOWN_TOPIC_OR_PART` → `UnknownTopic`, the
 * `INVALID_*` errors → `InvalidArgument`, authorization failures → `Unauthorized`, connection
 * errors → `Connection`, …).
 *
 * @example
 * ```ts
 * import * as Admin from "@sluice/core/Admin"
 * import * as ConfluentAdmin from "@sluice/confluent/ConfluentAdmin"
 * import * as Effect from "effect/Effect"
 *
 * const lag = Effect.gen(function* () {
 *   const admin = yield* Admin.Admin
 *   return (yield* admin.describeGroup("billing")).lag
 * }).pipe(Effect.provide(ConfluentAdmin.layer({ brokers: ["127.0.0.1:9092"] })))
 * ```
 *
 * @since 0.2.0
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import { Admin, type AdminError, make as makeAdmin } from "@sluice/core/Admin"
import type { SettingsError } from "@sluice/core/SettingsError"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ConfluentConfig from "./ConfluentConfig.js"
import { primitives } from "./internal/admin.js"
import { toAdminError } from "./internal/adminError.js"
import { attachLogs } from "./internal/log.js"
import * as Properties from "./internal/properties.js"

/**
 * Creates an admin client in the current scope; the scope's end disconnects it. Fails with a
 * `SettingsError` for a bad setting, and with an `AdminError` when librdkafka refuses its
 * configuration; an unreachable cluster fails each request with `Connection` or `Timeout`
 * after `requestTimeout`.
 *
 * @since 0.2.0
 */
export const make = (
  config: ConfluentConfig.ConfluentConfig
): Effect.Effect<Admin["Type"], AdminError | SettingsError, Scope.Scope> =>
  Effect.gen(function* () {
    const resolved = yield* ConfluentConfig.validate(config)
    const runtime = yield* Effect.runtime<never>()
    const client = yield* Effect.acquireRelease(
      Effect.try({
        try: () => RdKafka.AdminClient.create(Properties.admin(resolved) as never),
        catch: (error) => toAdminError(error, "ConfluentAdmin.connect")
      }),
      (client) => Effect.sync(() => client.disconnect())
    )
    attachLogs(client as never, runtime)
    return makeAdmin(primitives(client, resolved))
  })

/**
 * The admin service on the brokers `config` names.
 *
 * @since 0.2.0
 */
export const layer = (config: ConfluentConfig.ConfluentConfig): Layer.Layer<Admin, AdminError | SettingsError> =>
  Layer.scoped(Admin, make(config))

/**
 * The admin service with its connection settings read from `config` (by default the
 * environment: `KAFKA_BROKERS`, `KAFKA_CLIENT_ID`, … see `ConfluentConfig.config`).
 *
 * @since 0.2.0
 */
export const layerConfig = (
  config: Config.Config<ConfluentConfig.ConfluentConfig> = ConfluentConfig.config
): Layer.Layer<Admin, AdminError | SettingsError | ConfigError.ConfigError> =>
  Layer.scoped(Admin, Effect.flatMap(config, make))
