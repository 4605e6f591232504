/**
 * Codecs turn a record's bytes into typed values and back. They are synchronous and total:
 * decoding arbitrary bytes returns a `CodecError`, never throws, so a poison record becomes a
 * typed `DecodeError` that the error policy settles.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * Why bytes could not be decoded (or a value encoded).
 *
 * @since 0.1.0
 */
export class CodecError extends Data.TaggedError("CodecError")<{ readonly message: string }> {}

/**
 * A codec between `A` and a record field's bytes (`null` for an absent key or a tombstone).
 *
 * @since 0.1.0
 */
export interface Codec<A> {
  readonly name: string
  readonly decode: (bytes: Uint8Array | null) => Either.Either<A, CodecError>
  readonly encode: (value: A) => Either.Either<Uint8Array | null, CodecError>
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

/**
 * A user-supplied codec: a pair of functions with typed errors.
 *
 * @since 0.1.0
 */
export const make = <A>(codec: Codec<A>): Codec<A> => codec

/**
 * The bytes as they are (`null` stays `null`).
 *
 * @since 0.1.0
 */
export const bytes: Codec<Uint8Array | null> = {
  name: "bytes",
  decode: Either.right,
  encode: Either.right
}

/**
 * UTF-8 text. Invalid UTF-8 and `null` are decode errors.
 *
 * @since 0.1.0
 */
export const string: Codec<string> = {
  name: "string",
  decode: (input) => {
    if (input === null) return Either.left(new CodecError({ message: "expected a UTF-8 string, got null" }))
    try {
      return Either.right(utf8Decoder.decode(input))
    } catch {
      return Either.left(new CodecError({ message: "invalid UTF-8" }))
    }
  },
  encode: (value) => Either.right(utf8Encoder.encode(value))
}

/**
 * `null` bytes decode to `null`; anything else goes through `codec`.
 *
 * @since 0.1.0
 */
export const nullable = <A>(codec: Codec<A>): Codec<A | null> => ({
  name: `nullable(${codec.name})`,
  decode: (input) => (input === null ? Either.right(null) : codec.decode(input)),
  encode: (value) => (value === null ? Either.right(null) : codec.encode(value))
})

/**
 * JSON validated by a `Schema`: UTF-8, then `JSON.parse`, then the schema's decoding (so a
 * schema may transform, e.g. a date string into a `Date`). The error names what failed.
 *
 * @example
 * ```ts
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * const orders = Topic.make({ name: "orders", value: Codec.json(Order) })
 * ```
 *
 * @since 0.1.0
 */
export const json = <A, I>(schema: Schema.Schema<A, I, never>): Codec<A> => {
  const decodeSchema = Schema.decodeUnknownEither(schema, { errors: "all" })
  const encodeSchema = Schema.encodeEither(schema)
  return {
    name: "json",
    decode: (input) => {
      if (input === null) return Either.left(new CodecError({ message: "expected JSON, got null" }))
      let parsed: unknown
      try {
        parsed = JSON.parse(utf8Decoder.decode(input))
      } catch (error) {
        return Either.left(new CodecError({ message: `invalid JSON: ${(error as Error).message}` }))
      }
      return Either.mapLeft(
        decodeSchema(parsed),
        (issue) => new CodecError({ message: ParseResult.TreeFormatter.formatErrorSync(issue) })
      )
    },
    encode: (value) =>
      Either.match(encodeSchema(value), {
        onLeft: (issue) => Either.left(new CodecError({ message: ParseResult.TreeFormatter.formatErrorSync(issue) })),
        onRight: (encoded) => Either.right(utf8Encoder.encode(JSON.stringify(encoded)))
      })
  }
}

/**
 * Text validated by a `Schema` from string (e.g. `Schema.NumberFromString`).
 *
 * @since 0.1.0
 */
export const fromStringSchema = <A>(schema: Schema.Schema<A, string, never>): Codec<A> => {
  const decodeSchema = Schema.decodeUnknownEither(schema)
  const encodeSchema = Schema.encodeEither(schema)
  return {
    name: "string-schema",
    decode: (input) =>
      Either.flatMap(string.decode(input), (text) =>
        Either.mapLeft(
          decodeSchema(text),
          (issue) => new CodecError({ message: ParseResult.TreeFormatter.formatErrorSync(issue) })
        )
      ),
    encode: (value) =>
      Either.match(encodeSchema(value), {
        onLeft: (issue) => Either.left(new CodecError({ message: ParseResult.TreeFormatter.formatErrorSync(issue) })),
        onRight: (text) => string.encode(text)
      })
  }
}
