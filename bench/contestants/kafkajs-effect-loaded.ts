/**
 * Workload 1, the peak-RSS ladder's rung (a″): rung (a′) with Sluice's consumer and kafkajs
 * driver in the bundle, their modules loaded and never run. The bundle is within a few kB of
 * contestant (b)'s, so what (a″) adds to (a′) is Sluice's program being there (its code and
 * the Effect modules it uses beyond the runtime), and what (b) adds to (a″) is Sluice running.
 */
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
import { args, die, emit } from "../lib/common.js"
import { effectBatch } from "../lib/effectBatch.js"
import { rawKafkajsLoop } from "../lib/rawKafkajsLoop.js"
import type { ContestantArgs } from "./contestant.js"

/**
 * What contestant (b) uses of Sluice, exported so that the bundler keeps it (Sluice's packages
 * declare no side effects, so an import nothing uses is dropped) and node loads it.
 */
export const loaded = [Consumer.make, ConsumerSettings.make, ProcessingMode.partition, KafkaJsDriver.layer]

rawKafkajsLoop(args<ContestantArgs>(), "sluice-bench-kafkajs-effect-loaded", effectBatch).then(emit, die)
