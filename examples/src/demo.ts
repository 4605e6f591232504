/**
 * `pnpm demo`: a typed pipeline in one consumer group, under failures and rebalances.
 *
 * It produces orders (and a few undecodable records) to a 6-partition topic, runs three
 * consumers in one group that join and leave while the work goes on, injects handler failures
 * (retried) and — on the simulated cluster — a member crash, and shows per partition who owns
 * it, how many records were handled and committed and how many are in flight. The last line,
 * `produced=N handled=N duplicates=N lost=N`, is for scripts: `lost` must be 0.
 *
 * By default everything runs in memory (the simulated cluster of `@sluice/testkit`); with
 * `KAFKA_BROKERS=host:port` the same pipeline runs against that broker through kafkajs.
 */
import * as Admin from "@sluice/core/Admin"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type { ConsumerEvent } from "@sluice/core/ConsumerEvent"
import { headerString } from "@sluice/core/ConsumerRecord"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as KafkaJs from "@sluice/kafkajs/KafkaJs"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const RECORDS = Number(process.env.DEMO_RECORDS ?? 20_000)
const POISON = 12
const PARTITIONS = 6
const brokers = process.env.KAFKA_BROKERS?.split(",").filter((b) => b !== "")
const onBroker = brokers !== undefined && brokers.length > 0
const suffix = Date.now().toString(36)
const topicName = onBroker ? `sluice-demo-orders-${suffix}` : "demo.orders"
const dlqName = `${topicName}.dlq`
const groupId = onBroker ? `sluice-demo-${suffix}` : "demo"

// ---------------------------------------------------------------------------------------
// The pipeline: typed orders, a handler that sometimes fails, retry then dead letter.
// ---------------------------------------------------------------------------------------

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String, amount: Schema.Number })
const orders = Topic.make({ name: topicName, key: Codec.string, value: Codec.json(Order) })

class PaymentGatewayTimeout extends Schema.TaggedError<PaymentGatewayTimeout>()("PaymentGatewayTimeout", {
  order: Schema.Number
}) {}

/** What the demo observed, shared by every member. */
const stats = {
  handled: new Map<string, number>(),
  inFlight: new Map<number, number>(),
  owner: new Map<number, string>(),
  failuresInjected: 0
}
const failedOnce = new Set<number>()

const charge = (member: string) => (record: Topic.RecordOf<typeof orders>) =>
  Effect.gen(function* () {
    stats.inFlight.set(record.partition, (stats.inFlight.get(record.partition) ?? 0) + 1)
    yield* Effect.sleep("1 millis")
    // Every 97th order meets a gateway timeout on its first attempt: the retry policy heals it.
    if (record.value.id % 97 === 0 && !failedOnce.has(record.value.id)) {
      failedOnce.add(record.value.id)
      stats.failuresInjected++
      return yield* new PaymentGatewayTimeout({ order: record.value.id })
    }
    const key = `${record.partition}:${record.offset}`
    stats.handled.set(key, (stats.handled.get(key) ?? 0) + 1)
    void member
  }).pipe(
    Effect.ensuring(
      Effect.sync(() => stats.inFlight.set(record.partition, (stats.inFlight.get(record.partition) ?? 1) - 1))
    )
  )

const pipelineFor = (member: string) =>
  Pipeline.make({
    topic: orders,
    handler: charge(member),
    policy: ErrorPolicy.retry(
      Schedule.exponential("5 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
      ErrorPolicy.deadLetter(dlqName)
    ),
    floodLimit: { max: 100, window: "1 minute" }
  })

// ---------------------------------------------------------------------------------------
// Members: each a consumer of its own, joining and leaving while the work goes on.
// ---------------------------------------------------------------------------------------

interface Member {
  readonly name: string
  readonly fiber: Fiber.RuntimeFiber<never, unknown>
  memberId: string | undefined
}

const startMember = (name: string) =>
  Effect.gen(function* () {
    const consumerLayer = Consumer.layer({
      groupId,
      clientId: `demo-${name}`,
      commitInterval: "250 millis",
      sessionTimeout: onBroker ? "6 seconds" : "2 seconds",
      heartbeatInterval: "500 millis"
    })
    const consumer = yield* Consumer.Consumer.pipe(Effect.provide(consumerLayer))
    const events = yield* Queue.unbounded<ConsumerEvent>()
    const member: Member = { name, fiber: undefined as never, memberId: undefined }
    const dequeue = yield* consumer.subscribeEvents
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.map(Queue.take(dequeue), (event) => {
          if (event._tag === "Assigned") {
            member.memberId = event.memberId
            for (const tp of event.partitions) stats.owner.set(tp.partition, name)
          }
          if (event._tag === "Revoked" && stats.owner.get(event.partition.partition) === name) {
            stats.owner.set(event.partition.partition, "-")
          }
          if (event._tag === "Lost") {
            for (const tp of event.partitions)
              if (stats.owner.get(tp.partition) === name) stats.owner.set(tp.partition, "-")
          }
          return Queue.unsafeOffer(events, event)
        })
      )
    )
    const fiber = yield* Effect.forkDaemon(
      Pipeline.run(pipelineFor(name)).pipe(Effect.provideService(Consumer.Consumer, consumer))
    )
    return Object.assign(member, { fiber })
  })

// ---------------------------------------------------------------------------------------
// Progress display
// ---------------------------------------------------------------------------------------

const tty = process.stdout.isTTY === true
let drawnLines = 0

const render = (committed: ReadonlyMap<number, number>, final = false): void => {
  const handledPerPartition = new Map<number, number>()
  for (const key of stats.handled.keys()) {
    const partition = Number(key.slice(0, key.indexOf(":")))
    handledPerPartition.set(partition, (handledPerPartition.get(partition) ?? 0) + 1)
  }
  const lines = [`partition  owner  handled  committed  in-flight`]
  for (let p = 0; p < PARTITIONS; p++) {
    lines.push(
      `${String(p).padStart(9)}  ${(stats.owner.get(p) ?? "-").padStart(5)}  ${String(handledPerPartition.get(p) ?? 0).padStart(7)}  ${String(committed.get(p) ?? 0).padStart(9)}  ${String(stats.inFlight.get(p) ?? 0).padStart(9)}`
    )
  }
  if (tty) {
    if (drawnLines > 0) process.stdout.write(`\x1b[${drawnLines}A`)
    process.stdout.write(`${lines.map((l) => `${l}\x1b[K`).join("\n")}\n`)
    drawnLines = lines.length
  } else if (final) {
    console.log(lines.join("\n"))
  } else {
    const total = [...handledPerPartition.values()].reduce((a, b) => a + b, 0)
    console.log(`progress: handled=${total} owners=${[...stats.owner.values()].join(",")}`)
  }
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

const say = (text: string) => Effect.sync(() => (tty ? undefined : console.log(text)))

/** The group's committed offsets of the topic, by partition (none before its first commit). */
const committedOffsets = (admin: Admin.AdminService) =>
  admin.describeGroup(groupId).pipe(
    Effect.map(
      (group) =>
        new Map(
          group.offsets
            .filter((o) => o.topic === topicName && o.committed !== undefined)
            .map((o) => [o.partition, o.committed!])
        )
    ),
    Effect.catchIf(
      (error) => error.reason === "UnknownGroup",
      () => Effect.succeed(new Map<number, number>())
    )
  )

/** The source (partition:offset) of each of the first `count` dead letters, read by a group of its own. */
const deadLetterSources = (count: number) =>
  Consumer.stream(Topic.make({ name: dlqName })).pipe(
    Stream.take(count),
    Stream.map(
      (letter) =>
        `${headerString(letter.record.headers, Pipeline.deadLetterHeaders.partition)}:${headerString(letter.record.headers, Pipeline.deadLetterHeaders.offset)}`
    ),
    Stream.runCollect,
    Effect.provide(Consumer.layer({ groupId: `${groupId}-dlq`, clientId: "demo-dlq" }))
  )

const program = Effect.gen(function* () {
  const admin = yield* Admin.Admin
  const producer = yield* Producer.Producer
  const memory = yield* Effect.serviceOption(MemoryKafka.MemoryKafka)
  console.log(
    `Sluice demo on ${onBroker ? `the broker at ${brokers!.join(",")} (kafkajs)` : "the simulated cluster"}: ` +
      `${RECORDS} orders + ${POISON} undecodable records, ${PARTITIONS} partitions, 3 consumers in group ${groupId}`
  )
  yield* admin.createTopics([
    { name: topicName, partitions: PARTITIONS },
    { name: dlqName, partitions: 1 }
  ])
  const encoder = new TextEncoder()
  const poisonEvery = Math.floor(RECORDS / POISON)
  for (let from = 0; from < RECORDS; from += 2000) {
    const batch = []
    for (let i = from; i < Math.min(RECORDS, from + 2000); i++) {
      batch.push({
        topic: topicName,
        partition: i % PARTITIONS,
        key: encoder.encode(`customer-${i % 50}`),
        value: encoder.encode(JSON.stringify({ id: i, customer: `customer-${i % 50}`, amount: (i % 100) + 0.5 }))
      })
      if (i % poisonEvery === poisonEvery - 1 && batch.length < 2000 + POISON) {
        batch.push({ topic: topicName, partition: i % PARTITIONS, key: null, value: encoder.encode("{oops") })
      }
    }
    yield* producer.sendRaw(batch)
  }
  const [described] = yield* admin.describeTopics([topicName])
  const ends = new Map(described!.partitions.map((p) => [p.partition, p.endOffset]))
  const produced = [...ends.values()].reduce((a, b) => a + b, 0)

  let committed: ReadonlyMap<number, number> = new Map()
  const progress = yield* Effect.fork(
    Effect.forever(
      Effect.zipRight(
        Effect.flatMap(committedOffsets(admin), (c) =>
          Effect.sync(() => {
            committed = c
            render(c)
          })
        ),
        Effect.sleep(tty ? "100 millis" : "1 second")
      )
    )
  )
  const handledCount = () => stats.handled.size
  const waitHandled = (n: number) =>
    Effect.gen(function* () {
      while (handledCount() < n) yield* Effect.sleep("20 millis")
    })

  const a = yield* startMember("a")
  yield* waitHandled(RECORDS * 0.15)
  yield* say("b joins")
  const b = yield* startMember("b")
  yield* waitHandled(RECORDS * 0.35)
  yield* say("c joins")
  const c = yield* startMember("c")
  yield* waitHandled(RECORDS * 0.55)
  if (Option.isSome(memory) && b.memberId !== undefined) {
    // A crash: b's connection dies (it can commit nothing more) and so does its process: its
    // handlers stop. Its session expires and a and c take over from b's last commit.
    yield* say("b crashes")
    yield* memory.value.faults.crash(b.memberId)
    yield* Fiber.interrupt(b.fiber)
  } else {
    yield* say("b leaves")
    yield* Fiber.interrupt(b.fiber)
  }
  yield* waitHandled(RECORDS * 0.75)
  yield* say("a leaves (graceful: drain, commit, leave)")
  yield* Fiber.interrupt(a.fiber)

  // Wait until every partition's committed offset reached its end.
  const dlqEnd = yield* Effect.gen(function* () {
    for (;;) {
      const c2 = yield* committedOffsets(admin)
      committed = c2
      if ([...ends].every(([p, end]) => (c2.get(p) ?? 0) >= end)) break
      yield* Effect.sleep("50 millis")
    }
    // A dead letter written twice (its member crashed before committing past it) names the
    // same source record: count sources, not letters.
    const [dlq] = yield* admin.describeTopics([dlqName])
    const letters = dlq!.partitions.reduce((sum, p) => sum + p.endOffset, 0)
    const sources = new Set(yield* deadLetterSources(letters))
    return { letters, sources: sources.size }
  })
  yield* Fiber.interrupt(c.fiber)
  yield* Fiber.interrupt(progress)
  render(committed, true)

  const handled = stats.handled.size + dlqEnd.sources
  const duplicates = [...stats.handled.values()].reduce((sum, n) => sum + n - 1, 0) + (dlqEnd.letters - dlqEnd.sources)
  const lost = produced - handled
  console.log(
    `orders handled: ${stats.handled.size}, dead-lettered: ${dlqEnd.sources} (undecodable), ` +
      `handler failures injected and retried: ${stats.failuresInjected}`
  )
  console.log(`produced=${produced} handled=${handled} duplicates=${duplicates} lost=${lost}`)
  if (lost !== 0) process.exitCode = 1
})

// kafkajs on a broker (connection settings and the group in one layer), or the simulated cluster.
const layers: Layer.Layer<Admin.Admin | Producer.Producer | ConsumerDriver, unknown> = onBroker
  ? KafkaJs.layer({ brokers: brokers!, groupId, logLevel: "error" })
  : Producer.layer.pipe(Layer.provideMerge(MemoryKafka.layer({ seed: 7 })))

// Commit failures of the crashed member are expected here; keep the display readable.
const quiet = Logger.minimumLogLevel(LogLevel.Error)

Effect.runPromiseExit(Effect.scoped(program).pipe(Effect.provide(layers), Effect.provide(quiet))).then((exit) => {
  if (Exit.isFailure(exit)) {
    console.error("demo failed:", exit.cause)
    process.exitCode = 1
  }
  // kafkajs and the fibers of crashed members may keep timers: the demo is over.
  setTimeout(() => process.exit(), 100).unref()
})
