/**
 * Fault schedules: a group of consumers on the simulated cluster, driven through a list of
 * steps (records produced, members joining, leaving, crashing, fenced, commit failures, slow
 * and flaky handlers, time passing), with the guarantees G1–G8 of docs/guarantees.md checked
 * at every step by a model checker that sees every handler call, listener call and commit
 * attempt.
 *
 * A schedule runs on a discrete-event runtime of its own (a scheduler and a clock that move
 * only when the run moves them), so a run is deterministic, exact about quiescence and fast:
 * a schedule of simulated minutes takes milliseconds. Generate schedules with any property
 * testing library (the testkit's own property tests use fast-check) and hand them to `run`.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import * as Schedules from "@sluice/testkit/Schedules"
 *
 * it("a crash during keyed consumption breaks no guarantee", () => {
 *   const outcome = Schedules.run({
 *     config: { ...Schedules.defaultConfig, mode: "keyed", seed: 7 },
 *     steps: [
 *       { _tag: "Join" },
 *       { _tag: "Produce", count: 20 },
 *       { _tag: "Join" },
 *       { _tag: "Crash", member: 0 },
 *       { _tag: "Advance", millis: 7000 }
 *     ]
 *   })
 *   expect(outcome.violations).toEqual([])
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Consumer from "@sluice/core/Consumer"
import { ConsumerDriver, type GroupSession, type OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import type { ConsumerRecord } from "@sluice/core/ConsumerRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { type Call, Checker, type MemberView, type Violation } from "./internal/schedules/checker.js"
import { Livelock, VirtualRuntime } from "./internal/schedules/simulator.js"
import * as MemoryKafka from "./MemoryKafka.js"

export type {
  /**
   * A guarantee a run broke: which one (G1–G8, or `cluster` for the simulated cluster's own
   * invariants), after which step, at what simulated time, and what was seen.
   *
   * @since 0.1.0
   */
  Violation
} from "./internal/schedules/checker.js"

// -----------------------------------------------------------------------------------------
// Schedules
// -----------------------------------------------------------------------------------------

/**
 * How the group under test is set up. One config per schedule.
 *
 * @since 0.1.0
 */
export interface Config {
  /** Seeds the simulated cluster (member ids, assignor tie-breaks). */
  readonly seed: number
  readonly mode: "partition" | "keyed" | "unordered"
  /** Concurrency of the `keyed` and `unordered` modes. */
  readonly concurrency: number
  readonly partitions: number
  /** Distinct record keys (0: records have no key). */
  readonly keys: number
  readonly revocation: "drain" | "interrupt"
  /** The simulated cluster's group protocol (`consumer`: KIP-848). */
  readonly protocol: "eager" | "cooperative" | "consumer"
  readonly assignor: "range" | "roundRobin" | "sticky"
  readonly commitEvery: number
  /** Milliseconds. */
  readonly commitInterval: number
  /** `buffer.perPartition` of the consumers (`buffer.total` is this times the partitions). */
  readonly bufferPerPartition: number
  /** Most records one fetch delivers. */
  readonly maxBatchSize: number
}

/**
 * One step of a schedule. `member` picks one of the members that are running (not leaving,
 * not crashed), modulo their number; a step with nobody to act on does nothing.
 *
 * - `Produce`: `count` records, round-robin over the partitions, keys cycling over `keys`;
 * - `Join`: a new member starts (`Consumer.run` in the config's mode), at most 5 at a time;
 * - `Leave`: graceful shutdown (its fiber is interrupted: drain, commit, leave);
 * - `Crash`: the process dies (`faults.crash`, its fiber is interrupted; what it does from
 *   then on does not count); the group expels it after the session timeout;
 * - `Fence`: the coordinator fences the member (`onLost`, it rejoins under a new id);
 * - `FailCommits`: the next `times` commits of the group fail with `error`;
 * - `FailFetches`: nothing is delivered for `millis`;
 * - `Rebalance`: a forced rebalance;
 * - `Slow`: each of the next `count` records produced takes `millis` to handle;
 * - `Flaky`: each of the next `count` records produced fails `failures` times before it
 *   succeeds (the handler retries it, `retrySpacing` apart);
 * - `Advance`: the clock moves by `millis`.
 *
 * @since 0.1.0
 */
export type Step =
  | { readonly _tag: "Produce"; readonly count: number }
  | { readonly _tag: "Join" }
  | { readonly _tag: "Leave"; readonly member: number }
  | { readonly _tag: "Crash"; readonly member: number }
  | { readonly _tag: "Fence"; readonly member: number }
  | {
      readonly _tag: "FailCommits"
      readonly times: number
      readonly error: "retriable" | "rebalanceInProgress" | "fenced"
    }
  | { readonly _tag: "FailFetches"; readonly millis: number }
  | { readonly _tag: "Rebalance" }
  | { readonly _tag: "Slow"; readonly count: number; readonly millis: number }
  | { readonly _tag: "Flaky"; readonly count: number; readonly failures: number }
  | { readonly _tag: "Advance"; readonly millis: number }

/**
 * A schedule: the group's set-up and the steps to drive it through.
 *
 * @since 0.1.0
 */
export interface FaultSchedule {
  readonly config: Config
  readonly steps: ReadonlyArray<Step>
}

/**
 * A small group to start from: 2 partitions, 3 keys, `partition` mode, eager `range`,
 * draining revocations.
 *
 * @since 0.1.0
 */
export const defaultConfig: Config = {
  seed: 1,
  mode: "partition",
  concurrency: 4,
  partitions: 2,
  keys: 3,
  revocation: "drain",
  protocol: "eager",
  assignor: "range",
  commitEvery: 10,
  commitInterval: 500,
  bufferPerPartition: 16,
  maxBatchSize: 8
}

/**
 * The fixed timings of every run (milliseconds of the simulated clock).
 *
 * @since 0.1.0
 */
export const timings = {
  drainTimeout: 2_000,
  shutdownTimeout: 10_000,
  sessionTimeout: 6_000,
  heartbeatInterval: 2_000,
  rebalanceTimeout: 20_000,
  commitRetries: 3,
  commitRetryBase: 50,
  /** Spacing of the handler's own retries of a flaky record. */
  retrySpacing: 50,
  /** How long the final phase waits for the group to catch up (G3). */
  catchUp: 300_000
} as const

/**
 * What a run did: records, members, handler calls, commits, and what the run cost.
 *
 * @since 0.1.0
 */
export interface Stats {
  readonly produced: number
  readonly members: number
  readonly calls: number
  readonly successes: number
  /** Records handled successfully more than once by live members. */
  readonly duplicates: number
  readonly interrupted: number
  readonly commits: number
  readonly failedCommits: number
  /** Simulated milliseconds the run took. */
  readonly simulatedMillis: number
  /** Scheduler tasks the run took (its cost). */
  readonly tasks: number
}

/**
 * The result of `run`: the guarantees broken (none, when the engine is right), the run's
 * statistics and, when asked for, its trace.
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly violations: ReadonlyArray<Violation>
  readonly stats: Stats
  /** Every event of the run, when `run` was asked for a trace. */
  readonly trace: ReadonlyArray<string>
}

// -----------------------------------------------------------------------------------------
// Running a schedule
// -----------------------------------------------------------------------------------------

const TOPIC = "t"
const GROUP = "g"
const MAX_MEMBERS = 5
const encoder = new TextEncoder()

interface Plan {
  readonly cost: number
  readonly failures: number
}

interface MemberState extends MemberView {
  readonly index: number
  fiber: Fiber.RuntimeFiber<never, unknown> | undefined
  session: GroupSession | undefined
}

/**
 * Runs a schedule on a fresh simulated cluster and checks the guarantees after every step;
 * then stops the faults, lets the group catch up (G3), shuts every member down (G8) and
 * attributes the duplicates (G7). Stops at the first step that broke a guarantee.
 *
 * @since 0.1.0
 */
export const run = (schedule: FaultSchedule, options: { readonly trace?: boolean | undefined } = {}): Outcome => {
  const { config, steps } = schedule
  const rt = new VirtualRuntime<MemoryKafka.MemoryKafka | ConsumerDriver>()
  const checker = new Checker(
    {
      mode: config.mode,
      concurrency: config.concurrency,
      revocation: config.revocation,
      bufferPerPartition: config.bufferPerPartition,
      maxBatchSize: config.maxBatchSize,
      timings,
      trace: options.trace === true
    },
    () => rt.now
  )
  const scope = rt.run(Scope.make())
  rt.provide(
    rt.run(
      Layer.buildWithScope(
        MemoryKafka.layer({
          seed: config.seed,
          maxBatchSize: config.maxBatchSize,
          assignor: config.assignor,
          protocol: config.protocol
        }),
        scope
      )
    )
  )
  const kafka = rt.run(MemoryKafka.MemoryKafka)
  rt.run(kafka.createTopic(TOPIC, config.partitions))

  const plans = new Map<string, Plan>()
  let produced = 0
  let slow = { count: 0, millis: 0 }
  let flaky = { count: 0, failures: 0 }
  const members: Array<MemberState> = []
  const running = () => members.filter((m) => m.crashedAt === undefined && m.leavingAt === undefined)
  const pick = (n: number): MemberState | undefined => {
    const candidates = running()
    return candidates.length === 0 ? undefined : candidates[n % candidates.length]
  }
  const planOf = (partition: number, offset: number): Plan =>
    plans.get(`${partition}|${offset}`) ?? { cost: 0, failures: 0 }
  const durationOf = (plan: Plan) => (plan.failures + 1) * plan.cost + plan.failures * timings.retrySpacing

  const settings = rt.run(
    ConsumerSettings.make({
      groupId: GROUP,
      commitInterval: config.commitInterval,
      commitEvery: config.commitEvery,
      commitRetries: timings.commitRetries,
      commitRetryBase: timings.commitRetryBase,
      revocation:
        config.revocation === "drain" ? ConsumerSettings.drain(timings.drainTimeout) : ConsumerSettings.interrupt,
      buffer: { perPartition: config.bufferPerPartition, total: config.bufferPerPartition * config.partitions },
      shutdownTimeout: timings.shutdownTimeout,
      sessionTimeout: timings.sessionTimeout,
      heartbeatInterval: timings.heartbeatInterval,
      rebalanceTimeout: timings.rebalanceTimeout
    })
  )
  const mode =
    config.mode === "partition"
      ? ProcessingMode.partition
      : config.mode === "keyed"
        ? ProcessingMode.keyed({ concurrency: config.concurrency })
        : ProcessingMode.unordered({ concurrency: config.concurrency })

  /** The handler of a member: the record's plan, observed by the checker. */
  const handler =
    (member: MemberState) =>
    (record: ConsumerRecord): Effect.Effect<void, string> =>
      Effect.suspend(() => {
        const plan = planOf(record.partition, record.offset)
        const call: Call = checker.start(member, record.raw, durationOf(plan))
        let attempt = 0
        const once = Effect.suspend(() => {
          attempt++
          const fails = attempt <= plan.failures
          const result = fails ? Effect.fail("flaky") : Effect.void
          return plan.cost > 0 ? Effect.zipRight(Effect.sleep(plan.cost), result) : result
        })
        const attempts =
          plan.failures > 0 ? Effect.retry(once, { schedule: Schedule.spaced(timings.retrySpacing) }) : once
        return attempts.pipe(
          Effect.ensuring(Effect.sync(() => (call.finalized = true))),
          Effect.onExit((exit) => Effect.sync(() => checker.end(call, exit)))
        )
      })

  /** The cluster's driver, with every listener call and commit reported to the checker. */
  const observed = (driver: ConsumerDriver["Type"], member: MemberState): ConsumerDriver["Type"] => ({
    name: driver.name,
    subscribe: (subscription, listener) =>
      Effect.gen(function* () {
        const session = yield* driver.subscribe(subscription, {
          positions: listener.positions,
          onAssigned: (partitions) =>
            Effect.suspend(() => {
              checker.assigned(member, partitions)
              return listener.onAssigned(partitions)
            }),
          onRevoked: (partitions) =>
            Effect.suspend(() => {
              checker.revoking(member, partitions)
              return Effect.zipRight(
                listener.onRevoked(partitions),
                Effect.sync(() => checker.revoked(member, partitions))
              )
            }),
          onLost: (partitions) =>
            Effect.suspend(() => {
              checker.losing(member, partitions)
              return Effect.zipRight(
                listener.onLost(partitions),
                Effect.sync(() => checker.lost(member, partitions))
              )
            }),
          onRecords: (tp, records, logEnd) =>
            Effect.suspend(() => {
              checker.records(member, tp, records)
              return listener.onRecords(tp, records, logEnd)
            })
        })
        member.session = session
        member.memberId = yield* session.memberId
        // Registered after the driver's own finalizer, so it runs before it: the engine has
        // shut down, the member has not left yet.
        yield* Effect.addFinalizer(() => Effect.sync(() => checker.sessionClosing(member)))
        return {
          ...session,
          commit: (offsets: ReadonlyArray<OffsetAndMetadata>) =>
            Effect.suspend(() => {
              const attempt = checker.commitStart(member, offsets)
              return session
                .commit(offsets)
                .pipe(Effect.onExit((exit) => Effect.sync(() => checker.commitEnd(attempt, exit))))
            })
        } satisfies GroupSession
      })
  })

  const join = (): void => {
    if (running().length >= MAX_MEMBERS) return
    const member: MemberState = {
      index: members.length,
      name: `m${members.length}`,
      memberId: undefined,
      crashedAt: undefined,
      leavingAt: undefined,
      sessionClosed: false,
      assignments: new Map(),
      fiber: undefined,
      session: undefined
    }
    members.push(member)
    checker.log(`${member.name} joins`)
    member.fiber = rt.run(
      Effect.gen(function* () {
        const driver = yield* ConsumerDriver
        const consumer = yield* Consumer.make(settings).pipe(
          Effect.provideService(ConsumerDriver, observed(driver, member))
        )
        return yield* Effect.forkDaemon(consumer.run({ topics: [TOPIC], handler: handler(member), mode }))
      })
    )
  }

  const memberId = (member: MemberState): string | undefined =>
    member.session === undefined ? undefined : rt.run(member.session.memberId)

  const stop = (member: MemberState): void => {
    const fiber = member.fiber
    if (fiber !== undefined) rt.fork(Fiber.interrupt(fiber))
  }

  const apply = (step: Step): void => {
    switch (step._tag) {
      case "Produce": {
        const records = Array.from({ length: step.count }, (_, i) => {
          const n = produced + i
          return {
            topic: TOPIC,
            partition: n % config.partitions,
            key: config.keys === 0 ? null : encoder.encode(`k${Math.floor(n / 2) % config.keys}`),
            value: encoder.encode(String(n))
          }
        })
        const metadata = rt.run(kafka.produce(records))
        for (const m of metadata) {
          const plan = { cost: 0, failures: 0 }
          if (slow.count > 0) {
            slow.count--
            plan.cost = slow.millis
          }
          if (flaky.count > 0) {
            flaky.count--
            plan.failures = flaky.failures
          }
          if (plan.cost > 0 || plan.failures > 0) plans.set(`${m.partition}|${m.offset}`, plan)
        }
        produced += step.count
        checker.log(`produced ${step.count} (total ${produced})`)
        return
      }
      case "Join":
        join()
        return
      case "Leave": {
        const member = pick(step.member)
        if (member === undefined) return
        member.leavingAt = rt.now
        checker.log(`${member.name} leaves`)
        stop(member)
        return
      }
      case "Crash": {
        const member = pick(step.member)
        if (member === undefined) return
        const id = memberId(member)
        if (id !== undefined) rt.run(Effect.ignore(kafka.faults.crash(id)))
        member.crashedAt = rt.now
        checker.log(`${member.name} (${id}) crashes`)
        stop(member)
        return
      }
      case "Fence": {
        const member = pick(step.member)
        const id = member === undefined ? undefined : memberId(member)
        if (member === undefined || id === undefined) return
        checker.log(`${member.name} (${id}) is fenced`)
        rt.run(Effect.ignore(kafka.faults.fence(id)))
        return
      }
      case "FailCommits":
        checker.log(`the next ${step.times} commits fail (${step.error})`)
        rt.run(kafka.faults.failCommits({ times: step.times, error: step.error, groupId: GROUP }))
        return
      case "FailFetches":
        checker.log(`fetches fail for ${step.millis} ms`)
        rt.run(kafka.faults.failFetches({ duration: step.millis }))
        return
      case "Rebalance":
        checker.log("forced rebalance")
        rt.run(kafka.faults.forceRebalance(GROUP))
        return
      case "Slow":
        slow = { count: step.count, millis: step.millis }
        return
      case "Flaky":
        flaky = { count: step.count, failures: step.failures }
        return
      case "Advance":
        checker.log(`advance ${step.millis} ms`)
        rt.advance(step.millis)
        return
    }
  }

  const checkCluster = (): void => {
    const commits = rt.run(kafka.commitLog(GROUP))
    const ownership = rt.run(kafka.ownershipHistory(GROUP))
    const events = rt.run(kafka.groupEvents(GROUP))
    checkOwnership(commits, ownership, events, (message) => checker.violation("G2", message))
  }

  const caughtUp = (): string | undefined => {
    const committed = rt.run(kafka.committed(GROUP, TOPIC))
    const ends = rt.run(kafka.endOffsets(TOPIC))
    for (const [p, end] of ends) {
      const state = checker.partition(p)
      if (state.liveFrontier < end) return `p${p}@${state.liveFrontier} was never handled successfully (end ${end})`
      const c = committed.get(p)?.offset ?? 0
      if (c !== end) return `p${p} is committed at ${c}, its end is ${end}`
    }
    return undefined
  }

  try {
    for (let i = 0; i < steps.length; i++) {
      checker.step = i
      apply(steps[i]!)
      rt.settle()
      checkCluster()
      if (checker.violations.length > 0) break
    }
    if (checker.violations.length === 0) {
      // G3: the faults stop; a healthy group must catch up with everything.
      checker.step = steps.length
      checker.log("final phase: faults cleared")
      rt.run(kafka.faults.clear)
      if (running().length === 0) join()
      rt.settle()
      let behind = caughtUp()
      for (let waited = 0; behind !== undefined && waited < timings.catchUp; waited += 1000) {
        rt.advance(1000)
        behind = caughtUp()
        if (checker.violations.length > 0) break
      }
      if (behind !== undefined && checker.violations.length === 0) {
        checker.violation("G3", `${timings.catchUp / 1000} s after the faults stopped, ${behind}`)
      }
      // G8: every member shuts down within its deadline, and the commits stay at the end.
      for (const member of members)
        if (member.leavingAt === undefined && member.crashedAt === undefined) {
          member.leavingAt = rt.now
          stop(member)
        }
      rt.advance(timings.shutdownTimeout + 1000)
      for (const member of members) {
        if (member.fiber !== undefined && member.fiber.unsafePoll() === null) {
          checker.violation("G8", `${member.name} did not stop within shutdownTimeout`)
        }
      }
      checkCluster()
      if (checker.violations.length === 0) {
        const after = caughtUp()
        if (after !== undefined) checker.violation("G3", `after the graceful shutdown, ${after}`)
        checker.attributeDuplicates()
      }
    }
  } catch (error) {
    checker.violation(
      "cluster",
      error instanceof Livelock ? `livelock: ${error.message}` : `the simulation failed: ${String(error)}`
    )
  }
  if (options.trace === true) {
    try {
      checker.trace.push(
        "cluster group events:",
        ...rt
          .run(kafka.groupEvents(GROUP))
          .map(
            (e) =>
              `  #${e.seq} t=${e.time} gen ${e.generation} ${e.type}${e.memberId === undefined ? "" : ` ${e.memberId}`}${e.partitions === undefined ? "" : ` [${e.partitions.map((tp) => `p${tp.partition}`).join(" ")}]`}${e.detail === undefined ? "" : ` (${e.detail})`}`
          )
      )
    } catch {
      // The cluster is not inspectable after a livelock.
    }
  }
  rt.fork(Scope.close(scope, Exit.void))
  try {
    rt.settle()
  } catch {
    // A run that livelocked is abandoned as it stands.
  }
  return {
    violations: checker.violations,
    stats: {
      produced,
      members: members.length,
      ...checker.stats,
      simulatedMillis: rt.now,
      tasks: rt.tasks
    },
    trace: checker.trace
  }
}

/**
 * G2 on the cluster's own logs: every accepted commit falls inside an ownership of its
 * partition by the committing member (after the assignment, before the revocation completed
 * or the partition was lost), and commits only grow within one ownership.
 */
const checkOwnership = (
  commits: ReadonlyArray<MemoryKafka.CommitLogEntry>,
  ownership: ReadonlyArray<MemoryKafka.OwnershipEntry>,
  events: ReadonlyArray<MemoryKafka.GroupEvent>,
  report: (message: string) => void
): void => {
  const ends = ownership.map((entry) => {
    if (entry.end === undefined) return Number.POSITIVE_INFINITY
    const event = events.find(
      (e) =>
        e.seq > entry.seq &&
        e.memberId === entry.memberId &&
        (entry.end === "revoked"
          ? e.type === "revoked" && e.detail === undefined && e.partitions?.some((tp) => TP.equals(tp, entry)) === true
          : entry.end === "left"
            ? e.type === "left"
            : e.type === "fenced" || e.type === "sessionExpired" || e.type === "expelled")
    )
    return event?.seq ?? Number.POSITIVE_INFINITY
  })
  const last = new Map<number, number>()
  for (const commit of commits) {
    const index = ownership.findIndex(
      (entry, i) =>
        entry.memberId === commit.memberId &&
        TP.equals(entry, commit) &&
        entry.seq < commit.seq &&
        commit.seq < ends[i]!
    )
    if (index < 0) {
      report(
        `the cluster accepted a commit of p${commit.partition}@${commit.offset} from ${commit.memberId}, which did not own p${commit.partition} then`
      )
      continue
    }
    const previous = last.get(index)
    if (previous !== undefined && commit.offset < previous) {
      report(`commits of p${commit.partition} by ${commit.memberId} went back from ${previous} to ${commit.offset}`)
    }
    last.set(index, Math.max(previous ?? -1, commit.offset))
  }
}

// -----------------------------------------------------------------------------------------
// Printing
// -----------------------------------------------------------------------------------------

const describeStep = (step: Step): string => {
  switch (step._tag) {
    case "Produce":
      return `produce ${step.count} record(s)`
    case "Join":
      return "a member joins"
    case "Leave":
      return `running member #${step.member} leaves gracefully`
    case "Crash":
      return `running member #${step.member} crashes`
    case "Fence":
      return `running member #${step.member} is fenced`
    case "FailCommits":
      return `the next ${step.times} commit(s) fail (${step.error})`
    case "FailFetches":
      return `fetches fail for ${step.millis} ms`
    case "Rebalance":
      return "a forced rebalance"
    case "Slow":
      return `the next ${step.count} record(s) take ${step.millis} ms each`
    case "Flaky":
      return `the next ${step.count} record(s) fail ${step.failures} time(s) before succeeding`
    case "Advance":
      return `advance the clock ${step.millis} ms`
  }
}

/**
 * A schedule as numbered lines, then as JSON (to replay it, see the property tests).
 *
 * @since 0.1.0
 */
export const format = (schedule: FaultSchedule): string => {
  const c = schedule.config
  const mode = c.mode === "partition" ? "partition" : `${c.mode}(${c.concurrency})`
  const lines = [
    `mode ${mode}, ${c.partitions} partition(s), ${c.keys} key(s), revocation ${c.revocation}, ${c.protocol} ${c.assignor}, commit every ${c.commitEvery} / ${c.commitInterval} ms, buffer ${c.bufferPerPartition}, fetch ${c.maxBatchSize}, cluster seed ${c.seed}`,
    ...schedule.steps.map((step, i) => `  ${i}. ${describeStep(step)}`),
    `  JSON: ${JSON.stringify(schedule)}`
  ]
  return lines.join("\n")
}

/**
 * Runs a schedule and throws an `Error` describing the schedule, the violations and the end
 * of the run's trace if a guarantee broke.
 *
 * @since 0.1.0
 */
export const check = (schedule: FaultSchedule): Outcome => {
  const outcome = run(schedule)
  if (outcome.violations.length === 0) return outcome
  const traced = run(schedule, { trace: true })
  const tail = traced.trace.slice(-80)
  throw new Error(
    [
      `${outcome.violations.length} violation(s):`,
      ...outcome.violations
        .slice(0, 5)
        .map((v) => `  ${v.guarantee} after step ${v.step} (t=${v.time} ms): ${v.message}`),
      "schedule:",
      format(schedule),
      `trace (last ${tail.length} of ${traced.trace.length} events):`,
      ...tail.map((line) => `  ${line}`)
    ].join("\n")
  )
}
