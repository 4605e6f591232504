/**
 * Codecs turn a record's bytes into typed values and back. They are synchronous and total:
 * decoding arbitrary bytes returns a `CodecError`, never throws, so a poison record becomes a
 * typed `DecodeError` that the error policy settles.
 *
 * Any `Schema` to bytes or to text is a codec (`fromSchema`, `fromStringSchema`, or given
 * directly to `Topic.make`), so codecs compose as schemas do; `json`, `string` and `bytes`
 * cover the usual cases.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as Validate from "./internal/validate.js"
import type { SettingsError } from "./SettingsError.js"

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
  /** Names the codec in decoding errors; not empty. */
  readonly name: string
  readonly decode: (bytes: Uint8Array | null) => Either.Either<A, CodecError>
  readonly encode: (value: A) => Either.Either<Uint8Array | null, CodecError>
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

const formatIssue = (issue: ParseResult.ParseError): CodecError =>
  new CodecError({ message: ParseResult.TreeFormatter.formatErrorSync(issue) })

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
 * import * as Codec from "@sluice/core/Codec"
 * import * as Topic from "@sluice/core/Topic"
 * import * as Schema from "effect/Schema"
 *
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
      return Either.mapLeft(decodeSchema(parsed), formatIssue)
    },
    encode: (value) =>
      Either.match(encodeSchema(value), {
        onLeft: (issue) => Either.left(formatIssue(issue)),
        onRight: (encoded) => Either.right(utf8Encoder.encode(JSON.stringify(encoded)))
      })
  }
}

/**
 * Text validated by a `Schema` from string (e.g. `Schema.NumberFromString`,
 * `Schema.parseJson(Order)`): UTF-8, then the schema's decoding.
 *
 * @example
 * ```ts
 * import * as Codec from "@sluice/core/Codec"
 * import * as Schema from "effect/Schema"
 *
 * const amounts = Codec.fromStringSchema(Schema.NumberFromString)
 * ```
 *
 * @since 0.1.0
 */
export const fromStringSchema = <A>(schema: Schema.Schema<A, string, never>): Codec<A> => {
  const decodeSchema = Schema.decodeUnknownEither(schema)
  const encodeSchema = Schema.encodeEither(schema)
  return {
    name: "string-schema",
    decode: (input) => Either.flatMap(string.decode(input), (text) => Either.mapLeft(decodeSchema(text), formatIssue)),
    encode: (value) =>
      Either.match(encodeSchema(value), {
        onLeft: (issue) => Either.left(formatIssue(issue)),
        onRight: (text) => string.encode(text)
      })
  }
}

/**
 * Bytes validated by a `Schema` from `Uint8Array`: the schema's decoding of the bytes (a
 * `null` field is a decode error). Any schema ending in bytes composes into a codec, e.g. a
 * binary format's schema built with `Schema.transformOrFail` from `Schema.Uint8ArrayFromSelf`.
 *
 * @example
 * ```ts
 * import * as Codec from "@sluice/core/Codec"
 * import * as Schema from "effect/Schema"
 *
 * const raw = Codec.fromSchema(Schema.Uint8ArrayFromSelf)
 * ```
 *
 * @since 0.2.0
 */
export const fromSchema = <A>(schema: Schema.Schema<A, Uint8Array, never>): Codec<A> => {
  const decodeSchema = Schema.decodeUnknownEither(schema)
  const encodeSchema = Schema.encodeEither(schema)
  return {
    name: "schema",
    decode: (input) =>
      input === null
        ? Either.left(new CodecError({ message: "expected bytes, got null" }))
        : Either.mapLeft(decodeSchema(input), formatIssue),
    encode: (value) => Either.mapLeft(encodeSchema(value), formatIssue)
  }
}

/**
 * What `Topic.make` accepts for a key or a value: a `Codec`, or a `Schema` to bytes or to
 * text.
 *
 * @since 0.2.0
 */
export type Input<A> = Codec<A> | Schema.Schema<A, Uint8Array, never> | Schema.Schema<A, string, never>

/** Whether a schema's encoded side is text (string keywords, literals, templates, unions of them). */
const encodesToText = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "StringKeyword":
    case "TemplateLiteral":
      return true
    case "Literal":
      return typeof ast.literal === "string"
    case "Union":
      return ast.types.every(encodesToText)
    case "Refinement":
      return encodesToText(ast.from)
    default:
      return false
  }
}

/**
 * Whether `u` is a codec: a name and the two functions.
 *
 * @since 0.2.0
 */
export const isCodec = (u: unknown): u is Codec<unknown> =>
  typeof u === "object" &&
  u !== null &&
  typeof (u as Codec<unknown>).decode === "function" &&
  typeof (u as Codec<unknown>).encode === "function" &&
  typeof (u as Codec<unknown>).name === "string"

/**
 * A codec from a `Codec` (as it is) or a `Schema`: one whose encoded side is text goes
 * through `fromStringSchema`, any other (`Uint8Array`) through `fromSchema`.
 *
 * @since 0.2.0
 */
export const from = <A>(input: Input<A>): Codec<A> => {
  if (!Schema.isSchema(input)) return input as Codec<A>
  const schema = input as Schema.Schema<A, unknown, never>
  return encodesToText(SchemaAST.encodedAST(schema.ast))
    ? fromStringSchema(schema as Schema.Schema<A, string, never>)
    : fromSchema(schema as Schema.Schema<A, Uint8Array, never>)
}

/**
 * Checks a codec: a non-empty name and the two functions. `setting` names it in the error
 * (e.g. `"topic.value"`).
 *
 * @since 0.2.0
 */
export const validate = <A>(codec: Codec<A>, setting = "codec"): Effect.Effect<Codec<A>, SettingsError> =>
  !isCodec(codec)
    ? Validate.fail(
        setting,
        `${setting} must be a Codec (name, decode, encode) or a Schema, got ${Validate.show(codec)}`
      )
    : Effect.as(Validate.name(`${setting}.name`, codec.name), codec)
