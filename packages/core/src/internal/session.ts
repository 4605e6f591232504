/**
 * The driver's group session. `subscribe` hands it out only once it returns, but the driver may
 * call the listener before that (an assignment, then records that fill a buffer): a pause or
 * resume asked for before the session exists is queued and replayed, in order, when it arrives.
 *
 * Owns the session and the queued requests. Set once by the engine; read by backpressure
 * (pause, resume), the committer (commit) and the engine (member id).
 */
import * as Effect from "effect/Effect"
import type { GroupSession } from "../ConsumerDriver.js"
import type { TopicPartition } from "../TopicPartition.js"

export class SessionHandle {
  private session: GroupSession | undefined = undefined
  /** Pause/resume requests made before the driver handed out the session. */
  private pending: Array<{ readonly pause: boolean; readonly tp: TopicPartition }> = []

  /** The session, or `undefined` before the driver handed it out. */
  get current(): GroupSession | undefined {
    return this.session
  }

  set(session: GroupSession): Effect.Effect<void> {
    this.session = session
    const pending = this.pending
    this.pending = []
    return Effect.forEach(pending, (c) => (c.pause ? session.pause([c.tp]) : session.resume([c.tp])), {
      discard: true
    })
  }

  memberId(): Effect.Effect<string | undefined> {
    return this.session === undefined ? Effect.succeed(undefined) : this.session.memberId
  }

  /** Stops (`pause`) or restarts fetching `tp` at the driver. */
  control(pause: boolean, tp: TopicPartition): Effect.Effect<void> {
    const session = this.session
    if (session === undefined) {
      this.pending.push({ pause, tp })
      return Effect.void
    }
    return pause ? session.pause([tp]) : session.resume([tp])
  }
}
