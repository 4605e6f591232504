/**
 * Workload 1, the peak-RSS ladder's rung (a′): contestant (a)'s loop with each batch run
 * through Effect (`lib/effectBatch.ts`). Not a contestant of the ratios: it shows what
 * Effect's runtime alone adds to the raw loop's peak RSS.
 */
import { args, die, emit } from "../lib/common.js"
import { effectBatch } from "../lib/effectBatch.js"
import { rawKafkajsLoop } from "../lib/rawKafkajsLoop.js"
import type { ContestantArgs } from "./contestant.js"

rawKafkajsLoop(args<ContestantArgs>(), "sluice-bench-kafkajs-effect", effectBatch).then(emit, die)
