/**
 * Every public constructor that takes a number, a duration, a name or a schedule refuses a bad
 * value with a `SettingsError` naming the setting and showing the value: never a hang, a
 * defect, a throw or a silent default. Random invalid values (negative, zero where it is
 * invalid, NaN, ±Infinity, fractions where integers are needed, empty and illegal names, huge
 * values) go to each, through the effect where the value is first used; each must fail within
 * a second.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as Topic from "@sluice/core/Topic"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as fc from "fast-check"
import * as FakeDriver from "./fakeDriver.js"

// -----------------------------------------------------------------------------------------
// Invalid values, by kind
// -----------------------------------------------------------------------------------------

const notFinite = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)
const huge = fc.oneof(fc.constantFrom(2 ** 53, 1e300, Number.MAX_VALUE), fc.double({ min: 2 ** 53, noNaN: true }))
const fraction = fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 })

/** Not an integer of at least `min`. */
const belowOrNotInteger = (min: number) => fc.oneof(fc.integer({ max: min - 1 }), notFinite, huge, fraction)
const invalidPositiveInt = belowOrNotInteger(1)
const invalidNonNegativeInt = belowOrNotInteger(0)
/** Not an integer from 1 to `max`. */
const invalidBoundedInt = (max: number) =>
  fc.oneof(invalidPositiveInt, fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }))

/** Not a finite positive duration of at most 24 days. */
const invalidDuration: fc.Arbitrary<Duration.DurationInput> = fc.oneof(
  fc.double({ max: 0, noNaN: true }),
  notFinite,
  fc.double({ min: 2 ** 31, noNaN: true }),
  fc.constantFrom(
    "",
    "ten seconds",
    "5",
    "-5 seconds",
    "0 millis",
    "30 days",
    "Infinity",
    Duration.zero,
    Duration.infinity
  ) as fc.Arbitrary<Duration.DurationInput>,
  fc.integer({ min: -1_000_000, max: 0 }).map((n) => `${n} seconds` as Duration.DurationInput)
)

const invalidName = fc.constantFrom("", " ", "\t", "   \n")

/** Not a Kafka topic name. */
const invalidTopic = fc.oneof(
  invalidName,
  fc.constantFrom(".", "..", "has space", "a/b", "orders:dlq", "ü", "x".repeat(250)),
  fc
    .tuple(fc.string({ minLength: 0, maxLength: 5 }), fc.constantFrom(" ", "/", "*", "é", "#", ":"))
    .map(([a, b]) => `${a}${b}`)
)

// -----------------------------------------------------------------------------------------
// Where each value is first used
// -----------------------------------------------------------------------------------------

const settings = (input: Partial<ConsumerSettings.Input>) => ConsumerSettings.make({ groupId: "g", ...input })

/** A consumer on the scripted driver: `Consumer.run` refuses before it joins. */
const consumerLayer = Layer.unwrapEffect(
  Effect.map(FakeDriver.make, ({ layer }) => Consumer.layer({ groupId: "g" }).pipe(Layer.provide(layer)))
)

const producerLayer = Producer.layer.pipe(
  Layer.provide(
    Layer.succeed(ProducerDriver, {
      name: "fake",
      send: (records) => Effect.succeed(records.map(() => ({ topic: "t", partition: 0, offset: 0 }))),
      flush: Effect.void
    })
  )
)

const orders = Topic.make({ name: "orders", value: Codec.string })

const runConsumer = (options: Partial<Consumer.RunOptions<never, never>>) =>
  Consumer.run({ topics: ["orders"], handler: () => Effect.void, ...options })

/** A pipeline of `orders` with `options` over a handler that does nothing. */
const runPipeline = (options: {
  readonly mode?: ProcessingMode.ProcessingMode
  readonly policy?: ErrorPolicy.ErrorPolicy<any, Producer.Producer>
  readonly floodLimit?: ErrorPolicy.FloodLimit
}): Effect.Effect<never, unknown, Consumer.Consumer | Producer.Producer> =>
  Pipeline.run(Pipeline.make({ topic: orders, handler: () => Effect.void, ...options }))

interface Case<A> {
  /** The setting the error must name. */
  readonly setting: string
  readonly values: fc.Arbitrary<A>
  readonly use: (value: A) => Effect.Effect<unknown, unknown, Consumer.Consumer | Producer.Producer>
}

const cases: Record<string, Case<any>> = {
  // ConsumerSettings.make
  "ConsumerSettings.make groupId": { setting: "groupId", values: invalidName, use: (v) => settings({ groupId: v }) },
  "ConsumerSettings.make clientId": { setting: "clientId", values: invalidName, use: (v) => settings({ clientId: v }) },
  "ConsumerSettings.make startFrom": {
    setting: "startFrom",
    values: fc.constantFrom("", "Earliest", "beginning", "now"),
    use: (v) => settings({ startFrom: v })
  },
  "ConsumerSettings.make revocation": {
    setting: "revocation",
    values: fc.constantFrom({ _tag: "drain" }, { _tag: "Stop" }, "drain", 5),
    use: (v) => settings({ revocation: v })
  },
  "ConsumerSettings.make commitInterval": {
    setting: "commitInterval",
    values: invalidDuration,
    use: (v) => settings({ commitInterval: v })
  },
  "ConsumerSettings.make commitEvery": {
    setting: "commitEvery",
    values: invalidPositiveInt,
    use: (v) => settings({ commitEvery: v })
  },
  "ConsumerSettings.make commitRetries": {
    setting: "commitRetries",
    values: invalidNonNegativeInt,
    use: (v) => settings({ commitRetries: v })
  },
  "ConsumerSettings.make commitRetryBase": {
    setting: "commitRetryBase",
    values: invalidDuration,
    use: (v) => settings({ commitRetryBase: v })
  },
  "ConsumerSettings.make buffer.perPartition": {
    setting: "buffer.perPartition",
    values: invalidPositiveInt,
    use: (v) => settings({ buffer: { perPartition: v } })
  },
  "ConsumerSettings.make buffer.total": {
    setting: "buffer.total",
    values: invalidPositiveInt,
    use: (v) => settings({ buffer: { total: v } })
  },
  "ConsumerSettings.make shutdownTimeout": {
    setting: "shutdownTimeout",
    values: invalidDuration,
    use: (v) => settings({ shutdownTimeout: v })
  },
  "ConsumerSettings.make sessionTimeout": {
    setting: "sessionTimeout",
    values: invalidDuration,
    use: (v) => settings({ sessionTimeout: v })
  },
  "ConsumerSettings.make rebalanceTimeout": {
    setting: "rebalanceTimeout",
    values: invalidDuration,
    use: (v) => settings({ rebalanceTimeout: v })
  },
  "ConsumerSettings.make heartbeatInterval": {
    setting: "heartbeatInterval",
    values: invalidDuration,
    use: (v) => settings({ heartbeatInterval: v })
  },
  "ConsumerSettings.make maxBytesPerPartition": {
    setting: "maxBytesPerPartition",
    values: invalidBoundedInt(2 ** 31 - 1),
    use: (v) => settings({ maxBytesPerPartition: v })
  },
  "ConsumerSettings.make maxWindow": {
    setting: "maxWindow",
    values: invalidBoundedInt(24_504),
    use: (v) => settings({ maxWindow: v })
  },
  "ConsumerSettings.drain": {
    setting: "revocation.drainTimeout",
    values: invalidDuration,
    use: (v) => settings({ revocation: ConsumerSettings.drain(v) })
  },
  // Consumer.run
  "ProcessingMode.keyed in Consumer.run": {
    setting: "mode.concurrency",
    values: invalidBoundedInt(ProcessingMode.maxConcurrency),
    use: (v) => runConsumer({ mode: ProcessingMode.keyed({ concurrency: v }) })
  },
  "ProcessingMode.unordered in Consumer.run": {
    setting: "mode.concurrency",
    values: invalidBoundedInt(ProcessingMode.maxConcurrency),
    use: (v) => runConsumer({ mode: ProcessingMode.unordered({ concurrency: v }) })
  },
  "a per-topic mode in Consumer.run": {
    setting: "mode.concurrency",
    values: invalidPositiveInt,
    use: (v) => runConsumer({ mode: () => ProcessingMode.keyed({ concurrency: v }) })
  },
  "Consumer.run topics": { setting: "topics[0]", values: invalidTopic, use: (v) => runConsumer({ topics: [v] }) },
  "Consumer.run groupId": { setting: "groupId", values: invalidName, use: (v) => runConsumer({ groupId: v }) },
  // Pipeline.run
  "Topic.make name in Pipeline.run": {
    setting: "topic.name",
    values: invalidTopic,
    use: (v) => Pipeline.run(Pipeline.make({ topic: Topic.make({ name: v }), handler: () => Effect.void }))
  },
  "Codec.make name in Pipeline.run": {
    setting: "topic.value.name",
    values: invalidName,
    use: (v) =>
      Pipeline.run(
        Pipeline.make({
          topic: Topic.make({ name: "orders", value: Codec.make({ ...Codec.string, name: v }) }),
          handler: () => Effect.void
        })
      )
  },
  "ProcessingMode.keyed in Pipeline.run": {
    setting: "mode.concurrency",
    values: invalidBoundedInt(ProcessingMode.maxConcurrency),
    use: (v) => runPipeline({ mode: ProcessingMode.keyed({ concurrency: v }) })
  },
  "ErrorPolicy.deadLetter in Pipeline.run": {
    setting: "policy.topic",
    values: invalidTopic,
    use: (v) => runPipeline({ policy: ErrorPolicy.deadLetter(v) })
  },
  "ErrorPolicy.retry then deadLetter in Pipeline.run": {
    setting: "policy.then.topic",
    values: invalidTopic,
    use: (v) => runPipeline({ policy: ErrorPolicy.retry(Schedule.recurs(3), ErrorPolicy.deadLetter(v)) })
  },
  "ErrorPolicy.retry schedule in Pipeline.run": {
    setting: "policy.schedule",
    values: fc.oneof(fc.integer(), notFinite, invalidName, fc.constant(null)),
    use: (v) => runPipeline({ policy: ErrorPolicy.retry(v) })
  },
  "ErrorPolicy.byTag cases in Pipeline.run": {
    setting: "policy.cases[0].topic",
    values: invalidTopic,
    use: (v) =>
      runPipeline({
        policy: ErrorPolicy.byTag<Topic.DecodeError>()({ DecodeError: ErrorPolicy.deadLetter(v) }, ErrorPolicy.stop)
      })
  },
  "FloodLimit max in Pipeline.run": {
    setting: "floodLimit.max",
    values: invalidPositiveInt,
    use: (v) => runPipeline({ floodLimit: { max: v, window: "1 minute" } })
  },
  "FloodLimit window in Pipeline.run": {
    setting: "floodLimit.window",
    values: invalidDuration,
    use: (v) => runPipeline({ floodLimit: { max: 10, window: v } })
  },
  "FloodLimit consecutive in Pipeline.run": {
    setting: "floodLimit.consecutive",
    values: invalidPositiveInt,
    use: (v) => runPipeline({ floodLimit: { max: 10, window: "1 minute", consecutive: v } })
  },
  // Producer
  "Topic.make name in Producer.send": {
    setting: "topic.name",
    values: invalidTopic,
    use: (v) => Effect.flatMap(Producer.Producer, (p) => p.send(Topic.make({ name: v }), [{ key: null, value: null }]))
  },
  "Producer.send partition": {
    setting: "records[0].partition",
    values: fc.oneof(fc.integer({ max: -1 }), notFinite, huge, fraction, fc.constant(2 ** 31)),
    use: (v) => Effect.flatMap(Producer.Producer, (p) => p.send(orders, [{ key: null, value: "x", partition: v }]))
  },
  "Producer.send timestamp": {
    setting: "records[0].timestamp",
    values: fc.oneof(fc.integer({ max: -1 }), notFinite, huge, fraction),
    use: (v) => Effect.flatMap(Producer.Producer, (p) => p.send(orders, [{ key: null, value: "x", timestamp: v }]))
  },
  "Producer.sendRaw topic": {
    setting: "records[0].topic",
    values: invalidTopic,
    use: (v) => Effect.flatMap(Producer.Producer, (p) => p.sendRaw([{ topic: v, key: null, value: null }]))
  }
}

/** How the error shows the value: strings quoted, durations formatted, numbers as `String` does. */
const shown = (value: unknown): string | undefined =>
  typeof value === "string"
    ? JSON.stringify(value)
    : typeof value === "number"
      ? Object.is(value, -0)
        ? "-0"
        : String(value)
      : undefined

const expectRefused = (name: string, c: Case<any>, value: unknown) =>
  Effect.gen(function* () {
    const exit = yield* c
      .use(value)
      .pipe(
        Effect.timeoutFail({ duration: "1 second", onTimeout: () => "hang" as const }),
        Effect.provide(Layer.merge(consumerLayer, producerLayer)),
        Effect.exit
      )
    const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
    const context = `${name} with ${String(value)}: ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded"}`
    expect(error, context).toMatchObject({ _tag: "SettingsError", setting: c.setting })
    const text = shown(value)
    if (text !== undefined) expect((error as { message: string }).message, context).toContain(text)
  })

describe("every public constructor refuses bad values with a SettingsError naming the setting and the value", () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: ${c.setting}`, async () => {
      await fc.assert(
        fc.asyncProperty(c.values, (value) => Effect.runPromise(expectRefused(name, c, value))),
        { numRuns: 60 }
      )
    })
  }
})

describe("the bug of issue 12: a consumer that joins and handles nothing", () => {
  for (const mode of [
    ProcessingMode.keyed({ concurrency: 0 }),
    ProcessingMode.unordered({ concurrency: -1 }),
    ProcessingMode.keyed({ concurrency: Number.NaN })
  ]) {
    it.live(`${mode._tag} with concurrency ${(mode as ProcessingMode.Keyed).concurrency} fails before joining`, () =>
      Effect.gen(function* () {
        const { fake, layer } = yield* FakeDriver.make
        const error = yield* Effect.flip(
          runConsumer({ mode }).pipe(
            Effect.timeoutFail({ duration: "1 second", onTimeout: () => "hang" as const }),
            Effect.provide(Consumer.layer({ groupId: "g" }).pipe(Layer.provide(layer)))
          )
        )
        expect(error).toMatchObject({ _tag: "SettingsError", setting: "mode.concurrency" })
        // It never subscribed: no member stood in the group handling nothing.
        expect(yield* Deferred.isDone(fake.listener)).toBe(false)
      })
    )
  }
})

describe("valid values pass", () => {
  it.effect("the defaults, and the bounds themselves", () =>
    Effect.gen(function* () {
      const made = yield* settings({
        maxWindow: 24_504,
        maxBytesPerPartition: 2 ** 31 - 1,
        commitRetries: 0,
        commitInterval: 2 ** 31 - 1
      })
      expect(made.maxWindow).toBe(24_504)
      expect(
        yield* ProcessingMode.validate(ProcessingMode.keyed({ concurrency: ProcessingMode.maxConcurrency }))
      ).toEqual(ProcessingMode.keyed({ concurrency: ProcessingMode.maxConcurrency }))
      const topic = yield* Topic.validate(Topic.make({ name: "a.b_c-D".repeat(36).slice(0, 249) }))
      expect(topic.name.length).toBe(249)
      expect(yield* ErrorPolicy.validate(ErrorPolicy.deadLetter("orders.dlq"))).toEqual(
        ErrorPolicy.deadLetter("orders.dlq")
      )
    })
  )
})
