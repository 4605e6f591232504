/**
 * The drivers' transaction runner: a failed transaction is aborted unless the producer cannot
 * go on, and the failure says whether the abort went through (G10: a clean abort is retried
 * with the same outputs, anything else treats the partition as lost).
 */
import { describe, expect, it } from "@effect/vitest"
import { runTransaction, TransactionFailure, transactionFailure } from "../src/TransactionalProducerDriver.js"

const failing = (error: unknown) => async () => {
  throw error
}

describe("runTransaction (G10)", () => {
  it("G10 a transaction that succeeds is not aborted", async () => {
    let aborts = 0
    await runTransaction(
      async () => {},
      async () => {
        aborts++
      },
      () => false
    )
    expect(aborts).toBe(0)
  })

  it("G10 a failed transaction is aborted, and the failure says the abort went through", async () => {
    let aborts = 0
    const failure = await runTransaction(
      failing("broker said no"),
      async () => {
        aborts++
      },
      () => false
    ).catch(transactionFailure)
    expect(aborts).toBe(1)
    expect(failure).toEqual(new TransactionFailure("broker said no", true))
  })

  it("G10 an abort that fails too is reported as not aborted", async () => {
    const failure = await runTransaction(failing("first"), failing("abort refused"), () => false).catch(
      transactionFailure
    )
    expect(failure).toEqual(new TransactionFailure("first", false))
  })

  it("G10 a final failure (fenced, fatal) is not aborted", async () => {
    let aborts = 0
    const failure = await runTransaction(
      failing("fenced"),
      async () => {
        aborts++
      },
      (error) => error === "fenced"
    ).catch(transactionFailure)
    expect(aborts).toBe(0)
    expect(failure).toEqual(new TransactionFailure("fenced", false))
  })

  it("a failure that is not a TransactionFailure (before the transaction began) counts as not aborted", () => {
    expect(transactionFailure(new Error("connect"))).toEqual(new TransactionFailure(new Error("connect"), false))
  })
})
