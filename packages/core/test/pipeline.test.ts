import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import { headerString } from "@sluice/core/ConsumerRecord"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import { ProducerDriver, type ProducerRecord } from "@sluice/core/ProducerDriver"
import * as Topic from "@sluice/core/Topic"
import * as Arbitrary from "effect/Arbitrary"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import * as FakeDriver from "./fakeDriver.js"

// JsonNumber: JSON has no NaN or Infinity
const Order = Schema.Struct({ id: Schema.String, amount: Schema.JsonNumber, at: Schema.DateFromString })
const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.json(Order) })
const tp0 = { topic: "orders", partition: 0 }
const encoder = new TextEncoder()

const orderRecord = (offset: number, value: string) => ({
  ...FakeDriver.record(tp0, offset),
  key: encoder.encode(`k${offset}`),
  value: encoder.encode(value)
})
const good = (offset: number) =>
  orderRecord(offset, JSON.stringify({ id: `o${offset}`, amount: offset, at: "2026-01-01T00:00:00.000Z" }))

/** A producer driver that records what it sends, optionally holding acknowledgements. */
const fakeProducer = Effect.gen(function* () {
  const sent: Array<ProducerRecord> = []
  const gate = yield* Deferred.make<void>()
  let held = false
  const driver = ProducerDriver.of({
    name: "fake",
    send: (records) =>
      Effect.zipRight(
        Effect.suspend(() => (held ? Deferred.await(gate) : Effect.void)),
        Effect.sync(() => {
          sent.push(...records)
          return records.map((r, i) => ({ topic: r.topic, partition: 0, offset: sent.length - records.length + i }))
        })
      ),
    flush: Effect.void
  })
  return {
    sent,
    hold: () => {
      held = true
    },
    release: Deferred.succeed(gate, undefined),
    layer: Producer.layer.pipe(Layer.provide(Layer.succeed(ProducerDriver, driver)))
  }
})

const harness = (input: Partial<Parameters<typeof Consumer.layer>[0]> = {}) =>
  Effect.gen(function* () {
    const { fake, layer } = yield* FakeDriver.make
    const producer = yield* fakeProducer
    const consumerLayer = Consumer.layer({ groupId: "g", commitInterval: "10 millis", ...input }).pipe(
      Layer.provide(layer)
    )
    return { fake, producer, layers: Layer.merge(consumerLayer, producer.layer) }
  })

describe("codecs", () => {
  it("json(schema): decode(encode(a)) = a for arbitrary values", () => {
    const codec = Codec.json(Order)
    // effect's Arbitrary builds arbitraries of the fast-check it bundles
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(Order), (order) => {
        const bytes = Either.getOrThrow(codec.encode(order))
        const back = Either.getOrThrow(codec.decode(bytes))
        // JSON also has no -0: compare what JSON can carry
        const asJson = (value: typeof Order.Type) => JSON.parse(JSON.stringify(Schema.encodeSync(Order)(value)))
        expect(asJson(back)).toEqual(asJson(order))
      }),
      { numRuns: 300 }
    )
  })

  it("decoding arbitrary bytes never throws: it is a value or a CodecError", () => {
    const decoders: ReadonlyArray<(bytes: Uint8Array | null) => Either.Either<unknown, Codec.CodecError>> = [
      Codec.json(Order).decode,
      Codec.string.decode,
      Codec.nullable(Codec.string).decode,
      Codec.fromStringSchema(Schema.NumberFromString).decode
    ]
    fc.assert(
      fc.property(fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }), (bytes) => {
        for (const decode of decoders) {
          const result = decode(bytes)
          if (Either.isLeft(result)) expect(result.left._tag).toBe("CodecError")
        }
      }),
      { numRuns: 1000 }
    )
  })

  it("string round trip", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(Either.getOrThrow(Codec.string.decode(Either.getOrThrow(Codec.string.encode(text)) as Uint8Array))).toBe(
          text
        )
      })
    )
  })

  it("a DecodeError names the topic, partition, offset, field and the schema's message", () => {
    const decoded = Topic.decode(orders, orderRecord(7, JSON.stringify({ id: 1 })))
    expect(Either.isLeft(decoded)).toBe(true)
    if (Either.isLeft(decoded)) {
      expect(decoded.left).toMatchObject({
        _tag: "DecodeError",
        topic: "orders",
        partition: 0,
        offset: 7,
        field: "value"
      })
      expect(decoded.left.message).toContain("id")
    }
  })
})

describe("pipelines and error policies", () => {
  it.scopedLive("G9 a poison record is dead-lettered with its headers; the commit passes it only after the ack", () =>
    Effect.gen(function* () {
      const { fake, producer, layers } = yield* harness()
      producer.hold()
      const handled: Array<string> = []
      const pipeline = Pipeline.make({
        topic: orders,
        handler: (record) => Effect.sync(() => handled.push(record.value.id)),
        policy: ErrorPolicy.deadLetter("orders.dlq")
      })
      const fiber = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provide(layers)))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      yield* listener.onRecords(tp0, [good(0), good(1), orderRecord(2, "{not json"), good(3)])
      yield* Effect.sleep("100 millis")
      // The dead letter is not acknowledged yet: nothing passes offset 2.
      expect(Math.max(0, ...fake.commits.map((c) => c.offset))).toBe(2)
      expect(handled).toEqual(["o0", "o1"])
      yield* producer.release
      yield* Effect.sleep("100 millis")
      expect(handled).toEqual(["o0", "o1", "o3"])
      expect(fake.commits.at(-1)?.offset).toBe(4)
      const letter = producer.sent[0]!
      expect(letter.topic).toBe("orders.dlq")
      expect(new TextDecoder().decode(letter.value!)).toBe("{not json")
      const headers = letter.headers!.map((h) => ({ key: h.key, value: h.value }))
      expect(headerString(headers, Pipeline.deadLetterHeaders.topic)).toBe("orders")
      expect(headerString(headers, Pipeline.deadLetterHeaders.partition)).toBe("0")
      expect(headerString(headers, Pipeline.deadLetterHeaders.offset)).toBe("2")
      expect(headerString(headers, Pipeline.deadLetterHeaders.error)).toContain("DecodeError")
      expect(headerString(headers, Pipeline.deadLetterHeaders.attempts)).toBe("1")
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scoped("G9 retry follows its schedule under TestClock, then dead-letters with the attempt count", () =>
    Effect.gen(function* () {
      const { fake, producer, layers } = yield* harness({ commitInterval: "1 hour" })
      const attempts: Array<number> = []
      const pipeline = Pipeline.make({
        topic: orders,
        handler: (record) =>
          Effect.flatMap(TestClock.currentTimeMillis, (now) =>
            record.offset === 0
              ? Effect.sync(() => attempts.push(now)).pipe(Effect.zipRight(Effect.fail("declined" as const)))
              : Effect.void
          ),
        policy: ErrorPolicy.retry(
          Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(3))),
          ErrorPolicy.deadLetter("orders.dlq")
        )
      })
      const fiber = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provide(layers)))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      yield* listener.onRecords(tp0, [good(0), good(1)])
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
      // 1 attempt + 3 retries after 1 s, 2 s and 4 s
      expect(attempts).toEqual([0, 1000, 3000, 7000])
      expect(producer.sent.length).toBe(1)
      expect(headerString(producer.sent[0]!.headers as never, Pipeline.deadLetterHeaders.attempts)).toBe("4")
      yield* Fiber.interrupt(fiber)
      expect(fake.commits.at(-1)?.offset).toBe(2)
    })
  )

  it.scopedLive("G9 the flood limit stops the consumer instead of dead-lettering everything", () =>
    Effect.gen(function* () {
      const { fake, producer, layers } = yield* harness()
      const pipeline = Pipeline.make({
        topic: orders,
        handler: () => Effect.void,
        policy: ErrorPolicy.deadLetter("orders.dlq"),
        floodLimit: { max: 3, window: "1 minute" }
      })
      const fiber = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provide(layers)))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      yield* listener.onRecords(tp0, [good(0), ...[1, 2, 3, 4, 5].map((o) => orderRecord(o, "poison"))])
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error).toMatchObject({
          _tag: "HandlerError",
          offset: 4,
          cause: { _tag: "FloodLimitExceeded" }
        })
      }
      expect(producer.sent.length).toBe(3)
      expect(fake.commits.at(-1)?.offset).toBe(4)
    })
  )

  it.scopedLive("G9 stop fails the consumer with the typed error after committing what finished before it", () =>
    Effect.gen(function* () {
      const { fake, layers } = yield* harness()
      const pipeline = Pipeline.make({
        topic: orders,
        handler: (record) => (record.offset === 3 ? Effect.fail({ _tag: "Declined" as const }) : Effect.void),
        policy: ErrorPolicy.stop
      })
      const fiber = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provide(layers)))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      yield* listener.onRecords(tp0, [0, 1, 2, 3, 4].map(good))
      const exit = yield* Fiber.await(fiber)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error).toMatchObject({ _tag: "HandlerError", offset: 3, cause: { _tag: "Declined" } })
      } else {
        expect.fail("the consumer should have failed")
      }
      expect(fake.commits.at(-1)?.offset).toBe(3)
    })
  )

  it.scopedLive("skip and per-error-type policies (byTag) compose", () =>
    Effect.gen(function* () {
      const { fake, producer, layers } = yield* harness()
      class Declined extends Schema.TaggedError<Declined>()("Declined", {}) {}
      const pipeline = Pipeline.make({
        topic: orders,
        handler: (record) => (record.offset === 1 ? Effect.fail(new Declined()) : Effect.void),
        policy: ErrorPolicy.byTag<Declined | Topic.DecodeError>()(
          { DecodeError: ErrorPolicy.deadLetter("dlq") },
          ErrorPolicy.skip
        )
      })
      const fiber = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provide(layers)))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      yield* listener.onRecords(tp0, [good(0), good(1), orderRecord(2, "x"), good(3)])
      yield* Effect.sleep("100 millis")
      expect(producer.sent.map((r) => r.topic)).toEqual(["dlq"])
      expect(fake.commits.at(-1)?.offset).toBe(4)
      yield* Fiber.interrupt(fiber)
    })
  )
})

describe("several pipelines and modes", () => {
  it.scopedLive(
    "two pipelines share one group, each record goes to its topic's pipeline; a topic in two pipelines is a SettingsError",
    () =>
      Effect.gen(function* () {
        const { fake, layers } = yield* harness()
        const invoices = Topic.make({ name: "invoices", key: Codec.string, value: Codec.string })
        const seen: Array<string> = []
        const fiber = yield* Effect.fork(
          Pipeline.run(
            Pipeline.make({ topic: orders, handler: (r) => Effect.sync(() => seen.push(`order:${r.value.id}`)) }),
            Pipeline.make({ topic: invoices, handler: (r) => Effect.sync(() => seen.push(`invoice:${r.value}`)) })
          ).pipe(Effect.provide(layers))
        )
        const listener = yield* Deferred.await(fake.listener)
        const tpInvoices = { topic: "invoices", partition: 0 }
        yield* listener.onAssigned([
          { topicPartition: tp0, committed: undefined },
          { topicPartition: tpInvoices, committed: undefined }
        ])
        yield* listener.onRecords(tp0, [good(0)])
        yield* listener.onRecords(tpInvoices, [{ ...FakeDriver.record(tpInvoices, 0), key: encoder.encode("k") }])
        for (let i = 0; i < 100 && seen.length < 2; i++) yield* Effect.sleep("5 millis")
        expect(seen.sort()).toEqual(["invoice:v0", "order:o0"])
        yield* Fiber.interrupt(fiber)
        const twice = yield* Effect.flip(
          Pipeline.run(
            Pipeline.make({ topic: orders, handler: () => Effect.void }),
            Pipeline.make({ topic: orders, handler: () => Effect.void })
          ).pipe(Effect.provide(layers))
        )
        expect(twice).toMatchObject({ _tag: "SettingsError", setting: "pipelines" })
      })
  )

  it.scopedLive("G9 keyed mode with retries: a retrying record holds only its key; other keys go on", () =>
    Effect.gen(function* () {
      const { fake, layers } = yield* harness()
      const done: Array<number> = []
      let failures = 0
      const pipeline = Pipeline.make({
        topic: orders,
        handler: (record) =>
          record.offset === 0 && failures++ < 3
            ? Effect.fail("busy" as const)
            : Effect.sync(() => done.push(record.offset)),
        policy: ErrorPolicy.retry(Schedule.spaced("30 millis")),
        mode: ProcessingMode.keyed({ concurrency: 4 })
      })
      const fiber = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provide(layers)))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      // offsets 0 and 2 share key k0; 1 and 3 have their own keys
      const keyed = (offset: number, key: string) => ({ ...good(offset), key: encoder.encode(key) })
      yield* listener.onRecords(tp0, [keyed(0, "k0"), keyed(1, "k1"), keyed(2, "k0"), keyed(3, "k3")])
      for (let i = 0; i < 200 && done.length < 4; i++) yield* Effect.sleep("5 millis")
      // 1 and 3 finished while 0 was retrying; 2 waited for 0 (same key)
      expect(done.indexOf(1)).toBeLessThan(done.indexOf(0))
      expect(done.indexOf(3)).toBeLessThan(done.indexOf(0))
      expect(done.indexOf(0)).toBeLessThan(done.indexOf(2))
      for (let i = 0; i < 100 && fake.commits.at(-1)?.offset !== 4; i++) yield* Effect.sleep("5 millis")
      expect(fake.commits.at(-1)?.offset).toBe(4)
      yield* Fiber.interrupt(fiber)
    })
  )
})

describe("a pipeline is a description", () => {
  it.scopedLive("G9 two runs of one pipeline value count their dead letters afresh: the flood limit is per run", () =>
    Effect.gen(function* () {
      const pipeline = Pipeline.make({
        topic: orders,
        handler: () => Effect.void,
        policy: ErrorPolicy.deadLetter("orders.dlq"),
        floodLimit: { max: 3, window: "1 minute" }
      })
      const runOnce = Effect.gen(function* () {
        const { fake, producer, layers } = yield* harness()
        const fiber = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provide(layers)))
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
        yield* listener.onRecords(
          tp0,
          [0, 1, 2].map((o) => orderRecord(o, "poison"))
        )
        for (let i = 0; i < 200 && fake.commits.at(-1)?.offset !== 3; i++) yield* Effect.sleep("5 millis")
        expect(producer.sent.length).toBe(3)
        expect(fake.commits.at(-1)?.offset).toBe(3)
        yield* Fiber.interrupt(fiber)
      })
      yield* runOnce
      // With counters shared by the runs, this run's first dead letter would be the fourth
      // within the minute, and the flood limit would stop it.
      yield* runOnce
    })
  )

  it.scopedLive("pipelines of different modes run in one consumer, each partition in its pipeline's mode", () =>
    Effect.gen(function* () {
      const { fake, layers } = yield* harness()
      const invoices = Topic.make({ name: "invoices", key: Codec.string, value: Codec.string })
      const tpInvoices = { topic: "invoices", partition: 0 }
      const inFlight = { orders: { now: 0, max: 0 }, invoices: { now: 0, max: 0 } }
      const during = (count: { now: number; max: number }) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            count.max = Math.max(count.max, ++count.now)
          }),
          () => Effect.sleep("5 millis"),
          () => Effect.sync(() => count.now--)
        )
      const fiber = yield* Effect.fork(
        Pipeline.run(
          Pipeline.make({
            topic: orders,
            mode: ProcessingMode.unordered({ concurrency: 4 }),
            handler: () => during(inFlight.orders)
          }),
          Pipeline.make({ topic: invoices, handler: () => during(inFlight.invoices) })
        ).pipe(Effect.provide(layers))
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([
        { topicPartition: tp0, committed: undefined },
        { topicPartition: tpInvoices, committed: undefined }
      ])
      yield* listener.onRecords(
        tp0,
        Array.from({ length: 20 }, (_, i) => good(i))
      )
      yield* listener.onRecords(
        tpInvoices,
        Array.from({ length: 20 }, (_, i) => ({ ...FakeDriver.record(tpInvoices, i), key: encoder.encode("k") }))
      )
      const done = () =>
        fake.commits.some((c) => c.topic === "orders" && c.offset === 20) &&
        fake.commits.some((c) => c.topic === "invoices" && c.offset === 20)
      for (let i = 0; i < 400 && !done(); i++) yield* Effect.sleep("5 millis")
      expect(done()).toBe(true)
      expect(inFlight.orders.max).toBeGreaterThan(1)
      expect(inFlight.orders.max).toBeLessThanOrEqual(4)
      expect(inFlight.invoices.max).toBe(1)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("Pipeline.layer runs the pipelines while it is built and fails as run fails", () =>
    Effect.gen(function* () {
      const { fake, layers } = yield* harness()
      const pipeline = Pipeline.make({
        topic: orders,
        handler: (record) => (record.offset === 1 ? Effect.fail("declined" as const) : Effect.void)
      })
      const fiber = yield* Effect.fork(Layer.launch(Pipeline.layer(pipeline)).pipe(Effect.provide(layers)))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      yield* listener.onRecords(tp0, [good(0), good(1)])
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({ _tag: "HandlerError", offset: 1, cause: "declined" })
      expect(fake.commits.at(-1)?.offset).toBe(1)
    })
  )

  it.scopedLive(
    "a handler that dies stops the consumer with a HandlerDefect, not a HandlerError with a cast cause",
    () =>
      Effect.gen(function* () {
        const { fake, layers } = yield* harness()
        const pipeline = Pipeline.make({
          topic: orders,
          handler: (record) => (record.offset === 2 ? Effect.die(new Error("bug")) : Effect.void),
          // No policy applies to a defect: it is not the handler's error type.
          policy: ErrorPolicy.skip
        })
        const fiber = yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provide(layers)))
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
        yield* listener.onRecords(tp0, [good(0), good(1), good(2), good(3)])
        const error = yield* Effect.flip(Fiber.join(fiber))
        expect(error._tag).toBe("HandlerDefect")
        if (error._tag === "HandlerDefect") {
          expect(error).toMatchObject({ topic: "orders", partition: 0, offset: 2 })
          expect((error.defect as Error).message).toBe("bug")
          expect(error.message).toBe("handler died at orders-0@2: bug")
        }
        expect(fake.commits.at(-1)?.offset).toBe(2)
      })
  )
})

describe("codecs from schemas", () => {
  it("a Schema to text or to bytes is a codec, in Topic.make too", () => {
    const amounts = Topic.make({ name: "amounts", key: Schema.String, value: Schema.NumberFromString })
    const text = Either.getOrThrow(amounts.value.encode(12.5))
    expect(new TextDecoder().decode(text!)).toBe("12.5")
    expect(Either.getOrThrow(amounts.value.decode(encoder.encode("7")))).toBe(7)
    expect(Either.isLeft(amounts.value.decode(encoder.encode("seven")))).toBe(true)
    expect(Either.getOrThrow(amounts.key.decode(encoder.encode("k")))).toBe("k")
    // Bytes through a schema: reversed, to see that the schema's transformation runs.
    const Reversed = Schema.transform(Schema.Uint8ArrayFromSelf, Schema.Uint8ArrayFromSelf, {
      strict: true,
      decode: (bytes) => bytes.slice().reverse(),
      encode: (bytes) => bytes.slice().reverse()
    })
    const blobs = Topic.make({ name: "blobs", value: Reversed })
    expect([...Either.getOrThrow(blobs.value.decode(new Uint8Array([1, 2, 3])))]).toEqual([3, 2, 1])
    expect(Either.isLeft(blobs.value.decode(null))).toBe(true)
    const parsed = Codec.from(Schema.parseJson(Order))
    expect(Either.getOrThrow(parsed.decode(good(3).value)).id).toBe("o3")
  })

  it("decoding arbitrary bytes with a schema codec never throws", () => {
    const decoders: ReadonlyArray<Codec.Codec<any>> = [
      Codec.fromSchema(Schema.Uint8ArrayFromSelf),
      Codec.from(Schema.parseJson(Order))
    ]
    fc.assert(
      fc.property(fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }), (bytes) => {
        for (const codec of decoders) {
          const result = codec.decode(bytes)
          if (Either.isLeft(result)) expect(result.left._tag).toBe("CodecError")
        }
      }),
      { numRuns: 500 }
    )
  })
})

describe("types", () => {
  it("a handler for the wrong record type does not compile", () => {
    const Other = Schema.Struct({ name: Schema.String })
    Pipeline.make({
      // @ts-expect-error: orders carry Order values, not { name }
      topic: orders,
      handler: (record: Topic.TypedRecord<string, typeof Other.Type, Record<string, string>>) =>
        Effect.log(record.value.name)
    })
    Pipeline.make({
      topic: orders,
      handler: (record) => {
        // @ts-expect-error: amount is a number
        const amount: string = record.value.amount
        return Effect.log(amount)
      }
    })
    // Topic.RecordOf names a handler's record type from the topic.
    const charge = (record: Topic.RecordOf<typeof orders>) => Effect.log(record.value.amount.toFixed(2))
    Pipeline.make({ topic: orders, handler: charge })
    const other = Topic.make({ name: "other", value: Codec.json(Other) })
    // @ts-expect-error: a handler of orders' records does not handle other's
    Pipeline.make({ topic: other, handler: charge })
    // A dead-letter policy requires a Producer in the context.
    const needsProducer = Pipeline.run(
      Pipeline.make({ topic: orders, handler: () => Effect.void, policy: ErrorPolicy.deadLetter("dlq") })
    )
    // @ts-expect-error: Producer is missing
    const _check: Effect.Effect<never, unknown, Consumer.Consumer> = needsProducer
    // The checks above are the compiler's (tsc -b runs over this file in `pnpm test`); at run
    // time, the same pipeline routes exactly its topic.
    expect(Pipeline.make({ topic: orders, handler: () => Effect.void }).topics).toEqual(["orders"])
  })
})
