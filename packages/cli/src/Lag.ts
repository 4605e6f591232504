/**
 * `sluice lag`: a consumer group's partitions with their owner, committed offset, log-end
 * offset and lag, and a bar per partition — the view of `kafka-consumer-groups --describe`,
 * read through the `Admin` service of `@sluice/core`, so it works on any driver that provides
 * one. `render` is the text; `describe` the group, with a deadline; `show` one screen, or a
 * screen per interval with `watch`.
 *
 * @example
 * ```ts
 * import * as Lag from "@sluice/cli/Lag"
 * import * as KafkaJsAdmin from "@sluice/kafkajs/KafkaJsAdmin"
 * import * as Effect from "effect/Effect"
 *
 * const screen = Lag.describe("billing", { timeout: "10 seconds" }).pipe(
 *   Effect.map((group) => Lag.render(group, { brokers: "127.0.0.1:9092", at: new Date() })),
 *   Effect.provide(KafkaJsAdmin.layer({ brokers: ["127.0.0.1:9092"] }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import { Admin, type AdminError, type GroupDescription, type GroupMember } from "@sluice/core/Admin"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/**
 * Why `sluice lag` failed: `UnknownGroup` (no members and no committed offsets),
 * `Connection` (the brokers could not be reached), `Timeout` (no answer in time),
 * `InvalidArgument` (a flag's value; `field` names it), `Unknown`.
 *
 * @since 0.2.0
 */
export class LagError extends Data.TaggedError("LagError")<{
  readonly reason: "UnknownGroup" | "Connection" | "Timeout" | "InvalidArgument" | "Unknown"
  readonly message: string
  readonly field?: string | undefined
  readonly cause?: unknown
}> {}

/**
 * One partition of the group: its offsets, its lag (undefined without a committed offset) and
 * the member that owns it now (undefined when none does).
 *
 * @since 0.2.0
 */
export interface Row {
  readonly topic: string
  readonly partition: number
  readonly committed: number | undefined
  readonly endOffset: number
  readonly lag: number | undefined
  readonly owner: GroupMember | undefined
}

/**
 * The group's partitions, by topic and partition, each with its owner.
 *
 * @since 0.2.0
 */
export const rows = (group: GroupDescription): ReadonlyArray<Row> => {
  const owners = new Map<string, GroupMember>()
  for (const member of group.members) {
    for (const tp of member.assignment) owners.set(`${tp.topic}|${tp.partition}`, member)
  }
  return group.offsets.map((o) => ({
    topic: o.topic,
    partition: o.partition,
    committed: o.committed,
    endOffset: o.endOffset,
    lag: o.lag,
    owner: owners.get(`${o.topic}|${o.partition}`)
  }))
}

/**
 * How `render` draws: the bar's width in characters (20 by default), and the brokers and
 * time shown in the heading.
 *
 * @since 0.2.0
 */
export interface RenderOptions {
  readonly barWidth?: number | undefined
  readonly brokers?: string | undefined
  readonly at?: Date | undefined
}

/**
 * A bar of `width` characters, filled in proportion of `lag` to `max` (at least one
 * character for any lag, so that a small one shows); blank without a committed offset.
 *
 * @since 0.2.0
 */
export const bar = (lag: number | undefined, max: number, width: number): string => {
  if (lag === undefined) return " ".repeat(width)
  const filled = lag <= 0 || max <= 0 ? 0 : Math.max(1, Math.round((lag / max) * width))
  return "█".repeat(filled) + "░".repeat(width - filled)
}

const table = (header: ReadonlyArray<string>, body: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [line(header), ...body.map(line)]
}

const dash = (n: number | undefined): string => (n === undefined ? "-" : String(n))

/**
 * The group as text: a heading (group, state, members, total lag), a row per partition
 * (topic, partition, committed offset, log-end offset, lag, a bar scaled to the largest lag,
 * the owner's member id, client id and host) and, without partitions, a line that says so.
 *
 * @since 0.2.0
 */
export const render = (group: GroupDescription, options: RenderOptions = {}): string => {
  const width = options.barWidth ?? 20
  const all = rows(group)
  const max = Math.max(0, ...all.map((r) => r.lag ?? 0))
  const heading = [
    `group ${group.groupId}`,
    `state ${group.state}`,
    `members ${group.members.length}`,
    `lag ${group.lag}`,
    ...(options.brokers === undefined ? [] : [`brokers ${options.brokers}`]),
    ...(options.at === undefined ? [] : [`at ${options.at.toISOString().slice(11, 19)}Z`])
  ].join("  ")
  const lines = table(
    ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "".padEnd(width), "OWNER", "CLIENT", "HOST"],
    all.map((r) => [
      r.topic,
      String(r.partition),
      dash(r.committed),
      String(r.endOffset),
      dash(r.lag),
      bar(r.lag, max, width),
      r.owner?.memberId ?? "-",
      r.owner?.clientId ?? "-",
      r.owner?.host ?? "-"
    ])
  )
  const body = all.length === 0 ? ["(no partitions: the group has no committed offsets and no assignment)"] : lines
  return [heading, "", ...body].join("\n")
}

const fromAdminError = (error: AdminError, groupId: string, brokers: string): LagError => {
  switch (error.reason) {
    case "UnknownGroup":
      return new LagError({
        reason: "UnknownGroup",
        message: `group "${groupId}" not found: it has no members and no committed offsets`,
        cause: error
      })
    case "Connection":
      return new LagError({
        reason: "Connection",
        message: `could not reach the brokers at ${brokers}: ${error.message}`,
        cause: error
      })
    case "Timeout":
      return new LagError({ reason: "Timeout", message: `no answer from ${brokers}: ${error.message}`, cause: error })
    case "InvalidArgument":
      return new LagError({ reason: "InvalidArgument", message: error.message, field: "group", cause: error })
    default:
      return new LagError({ reason: "Unknown", message: error.message, cause: error })
  }
}

/**
 * The group through the `Admin` in context, failing with a `LagError` after `timeout`.
 *
 * @since 0.2.0
 */
export const describe = (
  groupId: string,
  options: { readonly timeout: Duration.DurationInput; readonly brokers?: string | undefined }
): Effect.Effect<GroupDescription, LagError, Admin> => {
  const brokers = options.brokers ?? "the brokers"
  return Effect.flatMap(Admin, (admin) => admin.describeGroup(groupId)).pipe(
    Effect.mapError((error) => fromAdminError(error, groupId, brokers)),
    Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () =>
        new LagError({
          reason: "Timeout",
          message: `no answer from ${brokers} within ${Duration.format(Duration.decode(options.timeout))}`
        })
    }),
    Effect.withSpan("Lag.describe", { attributes: { groupId } })
  )
}

/**
 * What `show` does: the group, the deadline of each look, and with `watch` the time between
 * screens (until interrupted, e.g. by Ctrl-C).
 *
 * @since 0.2.0
 */
export interface ShowOptions {
  readonly groupId: string
  readonly brokers: string
  readonly timeout: Duration.DurationInput
  readonly watch?: { readonly interval: Duration.DurationInput } | undefined
  /** Prints the group as JSON (`Admin.GroupDescription`) instead of the table. */
  readonly json?: boolean | undefined
  /** Clears the terminal before each screen (when standard output is one). */
  readonly clear?: boolean | undefined
}

/**
 * Prints the group once, or with `watch` a new screen per interval. The first look must
 * succeed; later failures (the broker restarting) are shown on the screen and the next look
 * tries again.
 *
 * @since 0.2.0
 */
export const show = (options: ShowOptions): Effect.Effect<void, LagError, Admin> => {
  const look = describe(options.groupId, options)
  const print = (text: string) => Console.log(options.clear === true ? `\x1b[H\x1b[2J${text}` : text)
  const screen = (group: GroupDescription) =>
    options.json === true
      ? Console.log(JSON.stringify(group))
      : Effect.flatMap(Clock.currentTimeMillis, (now) =>
          print(render(group, { brokers: options.brokers, at: new Date(now) }))
        )
  if (options.watch === undefined) return Effect.flatMap(look, screen)
  const separate = options.json === true || options.clear === true ? Effect.void : Console.log("")
  const next = look.pipe(
    Effect.flatMap(screen),
    Effect.catchAll((error) => print(`sluice lag: ${error.message} (trying again)`))
  )
  return Effect.flatMap(look, screen).pipe(
    Effect.zipRight(
      Effect.repeat(Effect.zipRight(separate, next), Schedule.spaced(options.watch.interval)).pipe(
        Effect.delay(options.watch.interval)
      )
    ),
    Effect.asVoid
  )
}
