#!/usr/bin/env node
/**
 * The `sluice` executable: the command line of `Cli.ts` on Node, with its exit code.
 *
 * @since 0.2.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"

const program = Cli.run(process.argv).pipe(
  Effect.as(0),
  Effect.catchAll(Cli.exitCode),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // Ctrl-C ends --watch: an interruption is a normal end.
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) ? Number(exit.value) : Cause.isInterruptedOnly(exit.cause) ? 0 : 1)
})
