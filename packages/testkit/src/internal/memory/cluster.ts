/**
 * The simulated cluster's parts, wired together. All state is plain mutable JavaScript
 * owned by the parts: fibers interleave only at effect boundaries, so every synchronous
 * block is atomic, and the hot paths (produce, delivery) cost no more than array pushes and
 * slices.
 *
 * | module           | owns                                                              |
 * | ---------------- | ----------------------------------------------------------------- |
 * | `log.ts`         | topics, partitions, records and their offsets                     |
 * | `group.ts`       | groups' members, ownership in the coordinator's view, memberships |
 * | `coordinator.ts` | the group registry and the rebalances: generations, assignment    |
 * | `poll.ts`        | each member's poll loop: controls and delivery                    |
 * | `commits.ts`     | commit checks and the committed offsets                           |
 * | `transactions.ts`| producer epochs, open transactions, transactional offset commits  |
 * | `faults.ts`      | injected faults                                                   |
 * | `journal.ts`     | the history tests inspect: events, commits, ownerships            |
 * | `session.ts`     | the consumer port: `subscribe` and the `GroupSession`             |
 * | `admin.ts`       | nothing: the `Admin` primitives over the log, groups and commits  |
 * | `handle.ts`      | what `MemoryKafka` exposes: the handle and the drivers            |
 *
 * Three kinds of fibers run: one poll loop per member (forked by `subscribe`), one
 * coordinator per group (forked in the cluster's scope) and one session-expiry timer per
 * crashed member (forked by `Faults.crash`).
 *
 * The parts are built in the order of their dependencies. Nothing here runs an effect or
 * draws from the generator: what a seed replays is decided by the order of operations inside
 * the parts (the property tests' schedules depend on it, so keep it when changing them).
 */
import type * as Scope from "effect/Scope"
import type * as MemoryKafka from "../../MemoryKafka.js"
import { Commits } from "./commits.js"
import { Coordinator } from "./coordinator.js"
import { Faults } from "./faults.js"
import { Membership } from "./group.js"
import { Journal } from "./journal.js"
import { Logs } from "./log.js"
import { PollLoop } from "./poll.js"
import { Prng } from "./prng.js"
import { Notifier } from "./signal.js"
import { Transactions } from "./transactions.js"

export class Cluster {
  /** Draws member ids and random commit faults: same seed, same run. */
  readonly prng: Prng
  /** Notified whenever a group may have become stable (`awaitStable` re-checks). */
  readonly changed = new Notifier()
  readonly journal = new Journal()
  readonly membership: Membership
  readonly logs: Logs
  readonly coordinator: Coordinator
  readonly faults: Faults
  readonly commits: Commits
  readonly poll: PollLoop
  readonly transactions: Transactions

  constructor(
    readonly options: MemoryKafka.Options,
    scope: Scope.Scope
  ) {
    this.prng = new Prng(options.seed)
    this.membership = new Membership(options.protocol, this.journal, this.prng, this.changed)
    this.logs = new Logs(options, this.membership)
    this.coordinator = new Coordinator(options, scope, this.logs, this.membership, this.journal, this.changed)
    this.faults = new Faults(scope, this.coordinator, this.membership, this.journal, this.prng, this.changed)
    this.commits = new Commits(options, this.logs, this.faults, this.journal)
    this.poll = new PollLoop(options, this.logs, this.membership, this.commits, this.faults, this.journal, this.changed)
    this.transactions = new Transactions(this.logs, this.commits)
  }
}
