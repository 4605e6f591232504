/**
 * The group members of this process, by group, for the transactional driver: librdkafka's
 * `send_offsets_to_transaction` takes the consumer's group metadata (KIP-447), and the consumer
 * is owned by `ConfluentDriver` while the transactional producer is built by
 * `ConfluentTransactional`, a layer of its own. A member is listed while its session lives.
 */
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Member } from "./member.js"

const byGroup = new Map<string, Set<Member>>()

/** Lists `member` under its group until the scope closes. */
export const register = (member: Member): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const group = member.subscription.groupId
      const members = byGroup.get(group) ?? new Set()
      members.add(member)
      byGroup.set(group, members)
    }),
    () =>
      Effect.sync(() => {
        const group = member.subscription.groupId
        const members = byGroup.get(group)
        members?.delete(member)
        if (members?.size === 0) byGroup.delete(group)
      })
  )

/** The member of `groupId` in this process that owns `tp` (assigning, owned or revoking), if any. */
export const owner = (groupId: string, tp: TP.TopicPartition): Member | undefined => {
  const key = TP.key(tp)
  for (const member of byGroup.get(groupId) ?? []) {
    if (!member.closing && member.owned.has(key)) return member
  }
  return undefined
}
