/**
 * `pnpm exec tsx examples/src/keyed.ts`: keyed processing. Account events must be applied in
 * order per account, but one partition holds many accounts: `ProcessingMode.keyed` runs up to
 * `concurrency` records of a partition at once, never two of one key, each key in offset order.
 * The commit is the frontier (the lowest unfinished offset), so nothing is committed past a
 * record still running.
 */
import * as Codec from "@sluice/core/Codec"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Runner from "./internal/Runner.js"

const Movement = Schema.Struct({ account: Schema.String, seq: Schema.Number, amount: Schema.Number })
export const movements = Topic.make({ name: Runner.named("movements"), key: Codec.string, value: Codec.json(Movement) })

/** What a run saw: the balances, the most records running at once, and any out-of-order event. */
export interface Ledger {
  readonly balances: Map<string, number>
  readonly outOfOrder: Array<string>
  maxRunning: number
}

export const program = (accounts: number, perAccount: number) =>
  Effect.gen(function* () {
    yield* Runner.createTopics([{ name: movements.name, partitions: 2 }])
    const producer = yield* Producer.Producer
    yield* producer.send(
      movements,
      Array.from({ length: accounts * perAccount }, (_, i) => {
        const account = `acc-${i % accounts}`
        return { key: account, value: { account, seq: Math.floor(i / accounts), amount: 1 } }
      })
    )
    const ledger: Ledger = { balances: new Map(), outOfOrder: [], maxRunning: 0 }
    const lastSeq = new Map<string, number>()
    let running = 0
    const progress = yield* Runner.countdown(accounts * perAccount)
    const apply = (record: Topic.RecordOf<typeof movements>) =>
      Effect.gen(function* () {
        const { account, seq, amount } = record.value
        running++
        ledger.maxRunning = Math.max(ledger.maxRunning, running)
        if (seq !== (lastSeq.get(account) ?? -1) + 1) ledger.outOfOrder.push(`${account}#${seq}`)
        yield* Effect.sleep("2 millis") // a call to the accounts service
        lastSeq.set(account, seq)
        ledger.balances.set(account, (ledger.balances.get(account) ?? 0) + amount)
        running--
        yield* progress.tick()
      })
    const ledgerPipeline = Pipeline.make({
      topic: movements,
      handler: apply,
      mode: ProcessingMode.keyed({ concurrency: 16 })
    })
    yield* Effect.raceFirst(Pipeline.run(ledgerPipeline), progress.done)
    yield* Effect.log(
      `applied ${accounts * perAccount} movements of ${accounts} accounts, up to ${ledger.maxRunning} at once, ` +
        `${ledger.outOfOrder.length} out of order`
    )
    return ledger
  })

Runner.runMain(import.meta.url, program(50, 20).pipe(Effect.provide(Runner.kafka({ groupId: Runner.named("ledger") }))))
