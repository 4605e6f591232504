/**
 * Transactions, after Kafka's transaction coordinator with pre-KIP-447 offset commits:
 *
 * - a transactional id has a producer epoch; `init` bumps it and aborts the open transaction
 *   of the older epoch, so a former producer of the id is fenced: whatever it does next fails;
 * - a transaction's records are appended as they are sent but stay invisible to readers
 *   (`read_committed`: they stop before the first record of an open transaction, and skip
 *   aborted records and markers) until the transaction commits; each partition it wrote to
 *   gets a marker at an offset of its own when it ends, as Kafka's control records;
 * - offsets sent to a transaction are stored for the group only when it commits, checked by
 *   the producer's epoch alone (a pre-KIP-447 broker knows nothing of the group's generation);
 * - injected faults: the coordinator aborts a transaction as if it had timed out (and bumps
 *   the epoch, which fences the producer), or fails its commit cleanly (retriable).
 *
 * A commit is two steps with a yield between (`begin`, then `end`), so that another fiber (a
 * new owner's `init`) can fence a transaction while it is open.
 *
 * Owns: the epochs and open transactions of every transactional id, and the transaction faults.
 * May touch: the log (appends and markers), the committed offsets (through `Commits`).
 */
import type { OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import * as TP from "@sluice/core/TopicPartition"
import * as TransactionalProducerDriver from "@sluice/core/TransactionalProducerDriver"
import type * as MemoryKafka from "../../MemoryKafka.js"
import type { Commits } from "./commits.js"
import type { Logs, LogTransaction } from "./log.js"

interface ProducerState {
  epoch: number
  open: LogTransaction | undefined
}

interface Rule {
  remaining: number
  readonly error: MemoryKafka.TransactionFault
  readonly transactionalId: string | undefined
}

const fail = (
  reason: TransactionalProducerDriver.TransactionErrorReason,
  message: string,
  retriable = false
): TransactionalProducerDriver.TransactionError =>
  TransactionalProducerDriver.error({ reason, operation: "transaction", message, retriable })

export class Transactions {
  private readonly producers = new Map<string, ProducerState>()
  private rules: Array<Rule> = []

  constructor(
    private readonly logs: Logs,
    private readonly commits: Commits
  ) {}

  /** A new producer of `id`: the epoch is bumped and the older producer's open transaction aborted. */
  init(id: string, now: number): number {
    let state = this.producers.get(id)
    if (state === undefined) {
      state = { epoch: 0, open: undefined }
      this.producers.set(id, state)
    }
    if (state.open !== undefined) this.finish(state, "aborted", now)
    return ++state.epoch
  }

  /** The current epoch of `id` (0: never initialised). */
  epoch(id: string): number {
    return this.producers.get(id)?.epoch ?? 0
  }

  /** Step one: the records appended in a new open transaction. */
  begin(
    id: string,
    epoch: number,
    records: ReadonlyArray<ProducerRecord>,
    now: number
  ): TransactionalProducerDriver.TransactionError | undefined {
    const state = this.producers.get(id)
    if (state === undefined || state.epoch !== epoch) return this.fenced(id, epoch)
    if (state.open !== undefined) return fail("protocol", `${id} already has an open transaction`)
    const txn: LogTransaction = { state: "open", logs: new Set() }
    state.open = txn
    const written = this.logs.produce(records, now, txn)
    if (!Array.isArray(written)) {
      this.finish(state, "aborted", now)
      return fail("protocol", (written as { message: string }).message)
    }
    return undefined
  }

  /** Step two: the offsets stored and the transaction committed, unless it was fenced meanwhile. */
  end(
    id: string,
    epoch: number,
    groupId: string,
    offsets: ReadonlyArray<OffsetAndMetadata>,
    now: number
  ): TransactionalProducerDriver.TransactionError | undefined {
    const state = this.producers.get(id)
    if (state === undefined || state.epoch !== epoch || state.open === undefined) return this.fenced(id, epoch)
    for (const o of offsets) {
      if (this.logs.log(o.topic, o.partition) === undefined) {
        this.finish(state, "aborted", now)
        return fail("protocol", `unknown partition ${TP.format(o)}`)
      }
    }
    const fault = this.fault(id)
    if (fault === "timeout") {
      // As the coordinator does when a transaction outlives its timeout: abort it and bump the
      // epoch, so that the producer is fenced.
      this.finish(state, "aborted", now)
      state.epoch++
      return fail("timeout", `the transaction of ${id} timed out: the coordinator aborted it and fenced the producer`)
    }
    if (fault === "retriable") {
      this.finish(state, "aborted", now)
      return fail("connection", `injected fault: the commit of ${id} failed and the transaction was aborted`, true)
    }
    this.commits.commitInTransaction(groupId, id, offsets, now)
    this.finish(state, "committed", now)
    return undefined
  }

  private fenced(id: string, epoch: number): TransactionalProducerDriver.TransactionError {
    return fail("fenced", `producer epoch ${epoch} of ${id} is fenced (the current epoch is ${this.epoch(id)})`)
  }

  private finish(state: ProducerState, outcome: "committed" | "aborted", now: number): void {
    const txn = state.open!
    state.open = undefined
    txn.state = outcome
    for (const log of txn.logs) log.endTransaction(txn, now)
    for (const topic of new Set(Array.from(txn.logs, (l) => l.topic))) this.logs.appended(topic)
  }

  private fault(id: string): MemoryKafka.TransactionFault | undefined {
    for (const rule of this.rules) {
      if (rule.remaining <= 0) continue
      if (rule.transactionalId !== undefined && rule.transactionalId !== id) continue
      rule.remaining--
      return rule.error
    }
    return undefined
  }

  addFault(options: MemoryKafka.TransactionFaultOptions): void {
    this.rules.push({
      remaining: options.times ?? 1,
      error: options.error ?? "timeout",
      transactionalId: options.transactionalId
    })
  }

  clearFaults(): void {
    this.rules = []
  }
}
