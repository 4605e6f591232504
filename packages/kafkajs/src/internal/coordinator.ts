/**
 * The group coordinator as the gate hands it back to kafkajs: a `Proxy` on kafkajs's
 * `Broker` that reads the generation from JoinGroup and notices when an answer says the
 * member is out of the generation.
 *
 * kafkajs keeps neither to itself in a form the driver can reach, and the gate needs both:
 * the generation to heartbeat while `onRevoked` runs, the fence to report `onLost` instead.
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
import type { Broker } from "kafkajs"
import { isFenced } from "../KafkaJsError.js"

/** The group coordinator as kafkajs's `Broker` class has it (`broker/index.js:341-436`). */
export interface CoordinatorBroker {
  heartbeat(request: { groupId: string; groupGenerationId: number; memberId: string }): Promise<unknown>
}

/** What the member's last JoinGroup returned, for heartbeats of its own (`revocation.ts`). */
export interface Generation {
  readonly coordinator: CoordinatorBroker
  readonly generationId: number
  readonly memberId: string
}

interface JoinGroupResponse {
  readonly generationId: number
  readonly memberId: string
}

/**
 * Wraps the coordinator kafkajs joins through: the JoinGroup answer goes to `onJoin`, and a
 * heartbeat, sync or commit refused with UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION /
 * FENCED_INSTANCE_ID calls `onFenced`, so the next gate declares the partitions lost instead
 * of revoking them. kafkajs re-joins after these with a reset member id (`runner.js:131-139`)
 * or a new generation (`runner.js:115-127`).
 */
export const observe = (
  broker: Broker,
  hooks: { readonly onJoin: (generation: Generation) => void; readonly onFenced: () => void }
): Broker => {
  const watch =
    (method: (request: unknown) => Promise<unknown>, target: object) =>
    async (request: unknown): Promise<unknown> => {
      try {
        return await method.call(target, request)
      } catch (error) {
        if (isFenced(error)) hooks.onFenced()
        throw error
      }
    }
  return new Proxy(broker, {
    get: (target, property) => {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof value !== "function") return value
      const method = value as (request: unknown) => Promise<unknown>
      if (property === "joinGroup") {
        return async (request: unknown) => {
          const response = (await watch(method, target)(request)) as JoinGroupResponse
          hooks.onJoin({
            coordinator: target as unknown as CoordinatorBroker,
            generationId: response.generationId,
            memberId: response.memberId
          })
          return response
        }
      }
      if (property === "heartbeat" || property === "syncGroup" || property === "offsetCommit") {
        return watch(method, target)
      }
      return method.bind(target)
    }
  })
}
