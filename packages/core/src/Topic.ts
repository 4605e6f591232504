/**
 * A topic described once: its name and the codecs of its keys, values and headers. Pipelines
 * decode with it, the producer encodes with it, and the types flow from it to the handler.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Codec from "./Codec.js"
import type { ConsumerRecord, Header, RawRecord } from "./ConsumerRecord.js"
import { position } from "./internal/describe.js"
import * as Validate from "./internal/validate.js"
import type { SettingsError } from "./SettingsError.js"

/**
 * A topic: its name and the codecs of its keys, values and headers.
 *
 * @since 0.1.0
 */
export interface Topic<K, V, H = Readonly<Record<string, string>>> {
  /** A Kafka topic name: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..` (checked at first use). */
  readonly name: string
  readonly key: Codec.Codec<K>
  readonly value: Codec.Codec<V>
  /** Decodes the UTF-8 headers (a header repeated keeps its last value). */
  readonly headers: HeadersCodec<H>
}

/**
 * How a topic's headers decode into `H` and encode back.
 *
 * @since 0.1.0
 */
export interface HeadersCodec<H> {
  readonly decode: (headers: ReadonlyArray<Header>) => Either.Either<H, Codec.CodecError>
  readonly encode: (headers: H) => ReadonlyArray<Header>
}

/**
 * A record's field could not be decoded. It goes to the pipeline's error policy, never to a
 * defect, with where it came from and the codec's message.
 *
 * @since 0.1.0
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly field: "key" | "value" | "headers"
  readonly message: string
}> {}

const utf8 = new TextDecoder()
const encoder = new TextEncoder()

/**
 * Headers as a string map (UTF-8; a `null` header value becomes "").
 *
 * @since 0.1.0
 */
export const stringHeaders: HeadersCodec<Readonly<Record<string, string>>> = {
  decode: (headers) => {
    const out: Record<string, string> = {}
    for (const header of headers) out[header.key] = header.value === null ? "" : utf8.decode(header.value)
    return Either.right(out)
  },
  encode: (headers) => Object.entries(headers).map(([key, value]) => ({ key, value: encoder.encode(value) }))
}

/**
 * Headers decoded with a codec of the string map (e.g. built from a `Schema`).
 *
 * @since 0.1.0
 */
export const headersFrom = <H>(
  decode: (headers: Readonly<Record<string, string>>) => Either.Either<H, Codec.CodecError>,
  encode: (headers: H) => Readonly<Record<string, string>>
): HeadersCodec<H> => ({
  decode: (headers) => Either.flatMap(stringHeaders.decode(headers), decode),
  encode: (headers) => stringHeaders.encode(encode(headers))
})

/**
 * Describes a topic. Keys default to nullable UTF-8 strings, values to raw bytes. A key or
 * value is a `Codec`, or any `Schema` to `Uint8Array` or to `string` (see `Codec.from`).
 *
 * Pure: the name and codecs are checked where the topic is first used (`Pipeline.run`,
 * `Producer.send`, `Consumer.stream`), which fail with a `SettingsError` for a bad one.
 *
 * @example
 * ```ts
 * import * as Codec from "@sluice/core/Codec"
 * import * as Topic from "@sluice/core/Topic"
 * import * as Schema from "effect/Schema"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.json(Order) })
 * // A schema from text is a codec as well:
 * const amounts = Topic.make({ name: "amounts", value: Schema.NumberFromString })
 * ```
 *
 * @since 0.1.0
 */
export const make = <K = string | null, V = Uint8Array | null, H = Readonly<Record<string, string>>>(options: {
  readonly name: string
  readonly key?: Codec.Input<K> | undefined
  readonly value?: Codec.Input<V> | undefined
  readonly headers?: HeadersCodec<H> | undefined
}): Topic<K, V, H> => ({
  name: options.name,
  key:
    options.key === undefined ? (Codec.nullable(Codec.string) as unknown as Codec.Codec<K>) : Codec.from(options.key),
  value: options.value === undefined ? (Codec.bytes as unknown as Codec.Codec<V>) : Codec.from(options.value),
  headers: (options.headers ?? stringHeaders) as HeadersCodec<H>
})

/**
 * Checks a topic: a legal Kafka topic name and valid codecs. `setting` names it in the
 * error (`"topic"` gives `"topic.name"`, `"topic.value.name"`, …).
 *
 * @since 0.2.0
 */
export const validate = <K, V, H>(
  topic: Topic<K, V, H>,
  setting = "topic"
): Effect.Effect<Topic<K, V, H>, SettingsError> =>
  typeof topic !== "object" || topic === null
    ? Validate.fail(setting, `${setting} must be a Topic (Topic.make), got ${Validate.show(topic)}`)
    : Effect.all([
        Validate.topicName(`${setting}.name`, topic.name),
        Codec.validate(topic.key, `${setting}.key`),
        Codec.validate(topic.value, `${setting}.value`),
        typeof topic.headers?.decode === "function" && typeof topic.headers.encode === "function"
          ? Effect.void
          : Validate.fail(
              `${setting}.headers`,
              `${setting}.headers must be a HeadersCodec, got ${Validate.show(topic.headers)}`
            )
      ]).pipe(Effect.as(topic))

/**
 * A record decoded with its topic's codecs; the raw bytes stay reachable in `raw`.
 *
 * @since 0.1.0
 */
export interface TypedRecord<K, V, H> extends ConsumerRecord<K, V> {
  readonly decodedHeaders: H
}

/**
 * The record type of a topic's handler, named from the topic instead of spelled out.
 *
 * @example
 * ```ts
 * import * as Codec from "@sluice/core/Codec"
 * import * as Topic from "@sluice/core/Topic"
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.json(Order) })
 *
 * const charge = (record: Topic.RecordOf<typeof orders>) => Effect.log(record.value.amount)
 * ```
 *
 * @since 0.2.0
 */
export type RecordOf<T> = T extends Topic<infer K, infer V, infer H> ? TypedRecord<K, V, H> : never

/**
 * Decodes a raw record with the topic's codecs.
 *
 * @since 0.1.0
 */
export const decode = <K, V, H>(
  topic: Topic<K, V, H>,
  raw: RawRecord
): Either.Either<TypedRecord<K, V, H>, DecodeError> => {
  const fail = (field: DecodeError["field"], error: Codec.CodecError) =>
    Either.left(
      new DecodeError({
        topic: raw.topic,
        partition: raw.partition,
        offset: raw.offset,
        field,
        message: `cannot decode the ${field} of ${position(raw)} (${field === "headers" ? "headers" : topic[field].name}): ${error.message}`
      })
    )
  const key = topic.key.decode(raw.key)
  if (Either.isLeft(key)) return fail("key", key.left)
  const value = topic.value.decode(raw.value)
  if (Either.isLeft(value)) return fail("value", value.left)
  const headers = topic.headers.decode(raw.headers)
  if (Either.isLeft(headers)) return fail("headers", headers.left)
  return Either.right({
    topic: raw.topic,
    partition: raw.partition,
    offset: raw.offset,
    key: key.right,
    value: value.right,
    headers: raw.headers,
    decodedHeaders: headers.right,
    timestamp: raw.timestamp,
    raw
  })
}
