/**
 * A topic described once: its name and the codecs of its keys, values and headers. Pipelines
 * decode with it, the producer encodes with it, and the types flow from it to the handler.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Codec from "./Codec.js"
import type { ConsumerRecord, Header, RawRecord } from "./ConsumerRecord.js"
import { position } from "./internal/describe.js"

/** @since 0.1.0 */
export interface Topic<K, V, H = Readonly<Record<string, string>>> {
  readonly name: string
  readonly key: Codec.Codec<K>
  readonly value: Codec.Codec<V>
  /** Decodes the UTF-8 headers (a header repeated keeps its last value). */
  readonly headers: HeadersCodec<H>
}

/** @since 0.1.0 */
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
 * Describes a topic. Keys default to nullable UTF-8 strings, values to raw bytes.
 *
 * @example
 * ```ts
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.json(Order) })
 * ```
 *
 * @since 0.1.0
 */
export const make = <K = string | null, V = Uint8Array | null, H = Readonly<Record<string, string>>>(options: {
  readonly name: string
  readonly key?: Codec.Codec<K> | undefined
  readonly value?: Codec.Codec<V> | undefined
  readonly headers?: HeadersCodec<H> | undefined
}): Topic<K, V, H> => ({
  name: options.name,
  key: (options.key ?? Codec.nullable(Codec.string)) as Codec.Codec<K>,
  value: (options.value ?? Codec.bytes) as Codec.Codec<V>,
  headers: (options.headers ?? stringHeaders) as HeadersCodec<H>
})

/**
 * A record decoded with its topic's codecs; the raw bytes stay reachable in `raw`.
 *
 * @since 0.1.0
 */
export interface TypedRecord<K, V, H> extends ConsumerRecord<K, V> {
  readonly decodedHeaders: H
}

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
