/**
 * The admin conformance suite: what the `Admin` service must answer, as tests that run
 * unchanged on every driver — the simulated cluster and kafkajs on a real broker. A driver
 * package calls `suite(name, layer)` from one of its test files, with a layer that provides
 * `Admin`, a `ConsumerDriver` (the lag and live-group tests run a real member) and a
 * `TestCluster` for the same cluster.
 *
 * @example
 * ```ts
 * import * as AdminConformance from "@sluice/testkit/AdminConformance"
 * import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
 *
 * AdminConformance.suite("memory", MemoryKafka.layer({ seed: 1 }), { sessionTimeout: "1 second" })
 * ```
 *
 * @since 0.2.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Admin from "@sluice/core/Admin"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { SuiteOptions } from "./Conformance.js"
import { TestCluster } from "./TestCluster.js"
import {
  committedWhen,
  eventually,
  freshTopic,
  type Handled,
  ownedPartitions,
  startMember,
  uniqueName
} from "./TestHelpers.js"

const defaultOptions: SuiteOptions = {
  sessionTimeout: "10 seconds",
  heartbeatInterval: "500 millis",
  patience: "60 seconds",
  testTimeout: 120_000
}

const encoder = new TextEncoder()

/** The admin error `effect` fails with (the test fails if it succeeds). */
const failure = <A, R>(effect: Effect.Effect<A, Admin.AdminError, R>) => Effect.flip(effect)

/** Checks that `effect` fails with `reason` (and `field`, for `InvalidArgument`). */
const expectRefused = <A, R>(
  effect: Effect.Effect<A, Admin.AdminError, R>,
  reason: Admin.AdminErrorReason,
  field?: string
) =>
  Effect.map(failure(effect), (error) => {
    expect(error).toMatchObject({ _tag: "AdminError", reason, ...(field === undefined ? {} : { field }) })
    return error
  })

/**
 * Registers the admin conformance tests for a driver. `layer` provides `Admin`, a
 * `ConsumerDriver` and a `TestCluster` for the same cluster.
 *
 * @since 0.2.0
 */
export const suite = <E>(
  name: string,
  layer: Layer.Layer<Admin.Admin | ConsumerDriver | TestCluster, E>,
  overrides: Partial<SuiteOptions> = {}
): void => {
  const options: SuiteOptions = { ...defaultOptions, ...overrides }
  const memberSettings: Partial<ConsumerSettings.Input> = {
    sessionTimeout: options.sessionTimeout,
    heartbeatInterval: options.heartbeatInterval
  }
  const test = (title: string, body: () => Effect.Effect<void, unknown, Admin.Admin | ConsumerDriver | TestCluster>) =>
    it.live(title, () => body().pipe(Effect.provide(layer)), options.testTimeout)

  /** Polls `read` every 100 ms until `done` holds of what it returns; dies after the patience. */
  const until = <A, Err, R>(read: Effect.Effect<A, Err, R>, done: (a: A) => boolean, what: string) =>
    Effect.gen(function* () {
      const deadline = Date.now() + Duration.toMillis(options.patience)
      for (;;) {
        const a = yield* read
        if (done(a)) return a
        if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
        yield* Effect.sleep("100 millis")
      }
    })

  /** Runs `body` with `topics` deleted afterwards, whatever happened (a real broker keeps them otherwise). */
  const withTopics = <A, Err, R>(topics: ReadonlyArray<string>, body: Effect.Effect<A, Err, R>) =>
    Effect.flatMap(Admin.Admin, (admin) =>
      Effect.ensuring(body, Effect.ignore(admin.deleteTopics(topics, { ifExists: true })))
    )

  describe(`admin conformance: ${name}`, () => {
    test("creates a topic, lists it, describes its partitions with their offsets and deletes it", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const cluster = yield* TestCluster
        const topic = uniqueName("admin-create")
        yield* admin.createTopics([
          { name: topic, partitions: 3, replicationFactor: 1, configs: { "retention.ms": "86400000" } }
        ])
        expect(yield* admin.listTopics).toContain(topic)
        yield* cluster.produce(
          [0, 0, 0, 1, 1, 2].map((partition) => ({ topic, partition, key: null, value: encoder.encode("x") }))
        )
        const [description] = yield* admin.describeTopics([topic])
        expect(description?.name).toBe(topic)
        expect(description?.partitions.map((p) => [p.partition, p.startOffset, p.endOffset])).toEqual([
          [0, 0, 3],
          [1, 0, 2],
          [2, 0, 1]
        ])
        for (const p of description?.partitions ?? []) {
          // A leader, where the driver knows brokers, is one of the replicas.
          if (p.leader !== undefined) expect(p.replicas).toContain(p.leader)
        }
        yield* admin.deleteTopics([topic])
        yield* until(admin.listTopics, (topics) => !topics.includes(topic), "the deleted topic to disappear")
        yield* expectRefused(admin.describeTopics([topic]), "UnknownTopic")
      }))

    test("creating a topic that exists fails with TopicExists and creates nothing; ifNotExists skips it", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const existing = uniqueName("admin-exists")
        const other = uniqueName("admin-other")
        yield* withTopics(
          [existing, other],
          Effect.gen(function* () {
            yield* admin.createTopics([{ name: existing, partitions: 1 }])
            const error = yield* expectRefused(
              admin.createTopics([
                { name: other, partitions: 2 },
                { name: existing, partitions: 1 }
              ]),
              "TopicExists"
            )
            expect(error.message).toContain(existing)
            expect(yield* admin.listTopics).not.toContain(other)
            yield* admin.createTopics(
              [
                { name: other, partitions: 2 },
                { name: existing, partitions: 1 }
              ],
              { ifNotExists: true }
            )
            const described = yield* admin.describeTopics([existing, other])
            expect(described.map((t) => [t.name, t.partitions.length])).toEqual([
              [existing, 1],
              [other, 2]
            ])
          })
        )
      }))

    test("a missing topic fails describe, delete and reset with UnknownTopic and changes nothing; ifExists skips it", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const { topic } = yield* freshTopic("admin-present", 1, 0)
        const missing = uniqueName("admin-missing")
        const groupId = uniqueName("admin-missing-group")
        yield* withTopics(
          [topic],
          Effect.gen(function* () {
            const error = yield* expectRefused(admin.describeTopics([topic, missing]), "UnknownTopic")
            expect(error.message).toContain(missing)
            expect(error.message).not.toContain(topic)
            yield* expectRefused(admin.deleteTopics([topic, missing]), "UnknownTopic")
            expect(yield* admin.listTopics).toContain(topic)
            yield* expectRefused(admin.resetOffsets({ groupId, topic: missing, to: Admin.earliest }), "UnknownTopic")
            yield* expectRefused(admin.describeGroup(groupId), "UnknownGroup")
            yield* admin.deleteTopics([missing], { ifExists: true })
          })
        )
      }))

    test("describeGroup: committed offsets and lag per partition, partitions without a commit, the group listed", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const { cluster, groupId, topic } = yield* freshTopic("admin-lag", 2, 20)
        yield* withTopics(
          [topic],
          Effect.gen(function* () {
            // A member consumes everything and commits 10 on each partition, then leaves.
            const probe: Array<Handled> = []
            const member = yield* startMember({ name: "a", groupId, topic, probe, settings: memberSettings })
            const committed = yield* committedWhen(
              groupId,
              topic,
              (c) => c.get(0) === 10 && c.get(1) === 10,
              Math.ceil(Duration.toMillis(options.patience) / 100)
            )
            expect([...committed].sort()).toEqual([
              [0, 10],
              [1, 10]
            ])
            yield* Fiber.interrupt(member.fiber)
            yield* cluster.produce(
              [0, 0, 0].map((partition) => ({ topic, partition, key: null, value: encoder.encode("late") }))
            )
            const group = yield* until(
              admin.describeGroup(groupId),
              (g) => g.members.length === 0,
              "the member to leave"
            )
            expect(group.state).toBe("Empty")
            expect(group.offsets).toEqual([
              { topic, partition: 0, committed: 10, endOffset: 13, lag: 3 },
              { topic, partition: 1, committed: 10, endOffset: 10, lag: 0 }
            ])
            expect(group.lag).toBe(3)

            // A group that committed one partition of the topic only.
            const partial = uniqueName("admin-lag-partial")
            yield* admin.resetOffsets({ groupId: partial, topic, to: Admin.offsets([{ partition: 1, offset: 4 }]) })
            const described = yield* admin.describeGroup(partial)
            expect(described).toMatchObject({ groupId: partial, state: "Empty", members: [], lag: 6 })
            expect(described.offsets).toEqual([
              { topic, partition: 0, committed: undefined, endOffset: 13, lag: undefined },
              { topic, partition: 1, committed: 4, endOffset: 10, lag: 6 }
            ])
            const groups = yield* admin.listGroups
            expect(groups).toContain(groupId)
            expect(groups).toContain(partial)
          })
        )
      }))

    test("resetOffsets to the earliest, the latest, a timestamp and explicit offsets", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const cluster = yield* TestCluster
        const { groupId, topic } = yield* freshTopic("admin-reset", 2, 0)
        // Ten records per partition, one second apart, an hour ago.
        const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000
        yield* cluster.produce(
          [0, 1].flatMap((partition) =>
            Array.from({ length: 10 }, (_, i) => ({
              topic,
              partition,
              key: null,
              value: encoder.encode(String(i)),
              timestamp: base + i * 1000
            }))
          )
        )
        yield* withTopics(
          [topic],
          Effect.gen(function* () {
            const reset = (to: Admin.ResetTarget) =>
              Effect.map(admin.resetOffsets({ groupId, topic, to }), (offsets) =>
                offsets.map((o) => [o.topic, o.partition, o.offset])
              )
            const committed = Effect.map(admin.describeGroup(groupId), (g) =>
              g.offsets.map((o) => [o.partition, o.committed])
            )
            expect(yield* reset(Admin.earliest)).toEqual([
              [topic, 0, 0],
              [topic, 1, 0]
            ])
            expect(yield* committed).toEqual([
              [0, 0],
              [1, 0]
            ])
            expect((yield* admin.describeGroup(groupId)).lag).toBe(20)
            expect(yield* reset(Admin.latest)).toEqual([
              [topic, 0, 10],
              [topic, 1, 10]
            ])
            expect((yield* admin.describeGroup(groupId)).lag).toBe(0)
            // The first record at or after the time: between records, exactly on one, past all.
            expect(yield* reset(Admin.timestamp(base + 4500))).toEqual([
              [topic, 0, 5],
              [topic, 1, 5]
            ])
            expect(yield* reset(Admin.timestamp(new Date(base + 4000)))).toEqual([
              [topic, 0, 4],
              [topic, 1, 4]
            ])
            expect(yield* reset(Admin.timestamp(base + 60_000))).toEqual([
              [topic, 0, 10],
              [topic, 1, 10]
            ])
            expect(yield* reset(Admin.offsets([{ partition: 0, offset: 7 }]))).toEqual([[topic, 0, 7]])
            expect(yield* committed).toEqual([
              [0, 7],
              [1, 10]
            ])
          })
        )
      }))

    test("resetOffsets is refused with GroupNotEmpty while the group has members, and allowed once they left", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const { groupId, topic } = yield* freshTopic("admin-live", 2, 10)
        yield* withTopics(
          [topic],
          Effect.gen(function* () {
            const probe: Array<Handled> = []
            const member = yield* startMember({ name: "a", groupId, topic, probe, settings: memberSettings })
            yield* eventually(
              () => ownedPartitions(member.events).size === 2 && probe.length === 10,
              "the member to own both partitions and handle every record",
              options.patience
            )
            const live = yield* until(
              admin.describeGroup(groupId),
              (g) => g.state === "Stable" && g.members[0]?.assignment.length === 2,
              "the group to be stable"
            )
            expect(live.members).toHaveLength(1)
            expect([...live.members[0]!.assignment].sort((a, b) => a.partition - b.partition)).toEqual([
              { topic, partition: 0 },
              { topic, partition: 1 }
            ])
            const error = yield* expectRefused(
              admin.resetOffsets({ groupId, topic, to: Admin.earliest }),
              "GroupNotEmpty"
            )
            expect(error.message).toContain("1 member")
            yield* Fiber.interrupt(member.fiber)
            yield* until(admin.describeGroup(groupId), (g) => g.members.length === 0, "the member to leave")
            // Its final commit stands until the reset replaces it.
            expect((yield* admin.describeGroup(groupId)).lag).toBe(0)
            yield* admin.resetOffsets({ groupId, topic, to: Admin.earliest })
            expect((yield* admin.describeGroup(groupId)).lag).toBe(10)
          })
        )
      }))

    test("bad input fails with InvalidArgument naming the field, before anything changes", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const { groupId, topic } = yield* freshTopic("admin-input", 2, 4)
        const spared = uniqueName("admin-spared")
        yield* withTopics(
          [topic, spared],
          Effect.gen(function* () {
            const create = (partitions: number | undefined, replicationFactor?: number) =>
              admin.createTopics([
                { name: spared, partitions: 1 },
                { name: uniqueName("admin-bad"), partitions, replicationFactor }
              ])
            for (const name of ["", "a b", "x".repeat(250), ".", "..", "é"]) {
              yield* expectRefused(admin.createTopics([{ name }]), "InvalidArgument", "topics[0].name")
            }
            for (const partitions of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
              yield* expectRefused(create(partitions), "InvalidArgument", "topics[1].partitions")
            }
            for (const factor of [0, -1, 1.5, Number.NaN, 2 ** 15]) {
              yield* expectRefused(create(1, factor), "InvalidArgument", "topics[1].replicationFactor")
            }
            yield* expectRefused(
              admin.createTopics([{ name: spared }, { name: spared }]),
              "InvalidArgument",
              "topics[1].name"
            )
            yield* expectRefused(
              admin.createTopics([{ name: spared, configs: { "": "x" } }]),
              "InvalidArgument",
              "topics[0].configs"
            )
            expect(yield* admin.listTopics).not.toContain(spared)

            yield* expectRefused(admin.deleteTopics([topic, ""]), "InvalidArgument", "topics[1]")
            yield* expectRefused(admin.describeTopics(["a/b"]), "InvalidArgument", "topics[0]")
            yield* expectRefused(admin.describeGroup(""), "InvalidArgument", "groupId")

            const reset = (to: Admin.ResetTarget, field: string) =>
              expectRefused(admin.resetOffsets({ groupId, topic, to }), "InvalidArgument", field)
            yield* expectRefused(
              admin.resetOffsets({ groupId: "", topic, to: Admin.earliest }),
              "InvalidArgument",
              "groupId"
            )
            yield* expectRefused(
              admin.resetOffsets({ groupId, topic: "", to: Admin.earliest }),
              "InvalidArgument",
              "topic"
            )
            for (const at of [Number.NaN, -1, 1.5, new Date("not a date")]) {
              yield* reset(Admin.timestamp(at), "to.timestamp")
            }
            yield* reset(Admin.offsets([]), "to.offsets")
            yield* reset(Admin.offsets([{ partition: -1, offset: 0 }]), "to.offsets[0].partition")
            yield* reset(
              Admin.offsets([
                { partition: 0, offset: 0 },
                { partition: 0, offset: 1 }
              ]),
              "to.offsets[1].partition"
            )
            yield* reset(Admin.offsets([{ partition: 2, offset: 0 }]), "to.offsets[0].partition")
            for (const offset of [-1, 0.5, Number.NaN, 3]) {
              yield* reset(Admin.offsets([{ partition: 0, offset }]), "to.offsets[0].offset")
            }
            // Nothing was committed: the group does not exist.
            yield* expectRefused(admin.describeGroup(groupId), "UnknownGroup")
            expect(yield* admin.listTopics).toContain(topic)
          })
        )
      }))
  })
}

/**
 * What only a real broker can say, on every driver: leaders among the in-sync replicas, the
 * broker's own refusals of bad topics, and the coordinator's refusal of a commit from outside
 * a live group even when it got past the service's check. `commitFromOutside` is the driver's
 * `Primitives.commitOffsets`, called directly (the service would refuse first).
 *
 * @since 0.2.0
 */
export const brokerSuite = <E>(
  name: string,
  layer: Layer.Layer<Admin.Admin | ConsumerDriver | TestCluster, E>,
  commitFromOutside: (
    groupId: string,
    offsets: ReadonlyArray<Admin.TopicPartitionOffset>
  ) => Effect.Effect<void, Admin.AdminError, Scope.Scope>
): void => {
  const test = (
    title: string,
    body: () => Effect.Effect<void, unknown, Admin.Admin | ConsumerDriver | TestCluster | Scope.Scope>
  ) => it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer)), 60_000)

  describe(`admin on a real broker: ${name}`, () => {
    test("a topic's partitions have a leader among their in-sync replicas; internal topics are not listed", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const topic = uniqueName("admin-leaders")
        yield* admin.createTopics([{ name: topic, partitions: 2 }])
        const [described] = yield* admin.describeTopics([topic])
        expect(described?.partitions).toHaveLength(2)
        for (const p of described?.partitions ?? []) {
          expect(p.leader).toBeTypeOf("number")
          expect(p.isr).toContain(p.leader)
        }
        expect(yield* admin.listTopics).not.toContain("__consumer_offsets")
        yield* admin.deleteTopics([topic])
      }))

    test("the broker's refusals: a replication factor above the brokers and an unknown config are InvalidArgument", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const topic = uniqueName("admin-refused")
        const tooMany = yield* failure(admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 100 }]))
        expect(tooMany).toMatchObject({ reason: "InvalidArgument" })
        expect(tooMany.message.toUpperCase()).toContain("REPLICATION")
        const unknownConfig = yield* failure(
          admin.createTopics([{ name: topic, partitions: 1, configs: { "no.such.config": "1" } }])
        )
        expect(unknownConfig).toMatchObject({ reason: "InvalidArgument" })
        expect(yield* admin.listTopics).not.toContain(topic)
      }))

    test("the broker itself refuses a commit from outside a live group: GroupNotEmpty, even past the service's check", () =>
      Effect.gen(function* () {
        const { groupId, topic } = yield* freshTopic("admin-race", 1, 2)
        const probe: Array<Handled> = []
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          settings: { sessionTimeout: "6 seconds" }
        })
        yield* eventually(() => ownedPartitions(member.events).size === 1, "the member to join")
        const error = yield* failure(commitFromOutside(groupId, [{ topic, partition: 0, offset: 0 }]))
        expect(error).toMatchObject({ _tag: "AdminError", reason: "GroupNotEmpty" })
        yield* Fiber.interrupt(member.fiber)
      }))

    test("a live member is described with its member id, client id and the host it connected from", () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const { groupId, topic } = yield* freshTopic("admin-host", 1, 1)
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe: [],
          settings: { sessionTimeout: "6 seconds", clientId: "admin-host-client" }
        })
        yield* eventually(() => ownedPartitions(member.events).size === 1, "the member to join")
        let described: Admin.GroupDescription | undefined
        for (let i = 0; i < 100 && described?.members[0]?.assignment.length !== 1; i++) {
          described = yield* admin.describeGroup(groupId)
          if (described.members[0]?.assignment.length !== 1) yield* Effect.sleep("100 millis")
        }
        expect(described?.members).toHaveLength(1)
        const described0 = described!.members[0]!
        expect(described0.memberId).toMatch(/^admin-host-client-/)
        expect(described0.clientId).toBe("admin-host-client")
        // The broker's view of the client's address, without Kafka's leading slash.
        expect(described0.host).toMatch(/^[\w.:-]+$/)
        yield* Fiber.interrupt(member.fiber)
      }))
  })
}
