/**
 * How the kafkajs error translations read a failure: kafkajs wraps errors as they pass its
 * retriers (`cause`) and gathers an admin request's failures in a `KafkaJSAggregateError`
 * (`errors`), so the error that says what happened may sit anywhere in that tree. Read by
 * shape, never by class, so that a second copy of kafkajs in the tree is read too.
 */

/** What a kafkajs error (or a Node system error) may carry. */
export interface ErrorLike {
  readonly name?: unknown
  readonly message?: unknown
  readonly type?: unknown
  readonly code?: unknown
  readonly retriable?: unknown
  readonly cause?: unknown
  readonly errors?: unknown
}

const isObject = (u: unknown): u is ErrorLike => typeof u === "object" && u !== null

/** The error and its causes, outermost first (bounded: a cyclic chain must not hang us). */
export const chain = (error: unknown): ReadonlyArray<ErrorLike> => {
  const out: Array<ErrorLike> = []
  const seen = new Set<unknown>()
  const visit = (u: unknown): void => {
    if (!isObject(u) || seen.has(u) || out.length >= 32) return
    seen.add(u)
    out.push(u)
    // KafkaJSAggregateError (admin) holds its failures in `errors`.
    if (Array.isArray(u.errors)) for (const inner of u.errors) visit(inner)
    visit(u.cause)
  }
  visit(error)
  return out
}

export const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)
