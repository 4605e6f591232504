/**
 * The processor of `Consumer.run`: the user's handler on each record, in the processing mode
 * asked for its topic (the engine calls a processor per partition, so each partition runs in
 * its topic's mode). A handler's failure stops the consumer with a `HandlerError` naming the
 * record, its defect with a `HandlerDefect`; the record itself stays unfinished, so no commit
 * passes it (G1).
 */
import * as Effect from "effect/Effect"
import type { RunOptions } from "../../Consumer.js"
import { fromCause } from "../../ConsumerError.js"
import * as ConsumerRecord from "../../ConsumerRecord.js"
import type { ConsumerSettings } from "../../ConsumerSettings.js"
import * as ProcessingMode from "../../ProcessingMode.js"
import { SettingsError } from "../../SettingsError.js"
import type { Processor } from "../flow.js"
import * as Tracing from "../tracing.js"
import * as Validate from "../validate.js"
import { concurrent } from "./concurrent.js"
import { sequential } from "./sequential.js"

/** Checks the run's topics, group and modes, then builds the processor that runs each partition in its topic's mode. */
export const handlerProcessor = <E, R>(
  settings: ConsumerSettings,
  options: RunOptions<E, R>
): Effect.Effect<Processor<R>, SettingsError> =>
  Effect.gen(function* () {
    const topics = yield* Validate.topicNames("topics", options.topics)
    if (options.groupId !== undefined) yield* Validate.name("groupId", options.groupId)
    yield* Validate.isFunction("handler", options.handler)
    const modeOf = options.mode
    const modes = new Map<string, ProcessingMode.ProcessingMode>()
    for (const topic of topics) {
      const mode = typeof modeOf === "function" ? modeOf(topic) : (modeOf ?? ProcessingMode.partition)
      modes.set(
        topic,
        yield* ProcessingMode.validate(mode, "mode").pipe(
          Effect.mapError((error) =>
            typeof modeOf === "function"
              ? new SettingsError({ setting: error.setting, message: `${error.message} (the mode of topic ${topic})` })
              : error
          )
        )
      )
    }
    const handleRaw = (raw: ConsumerRecord.RawRecord) => options.handler(ConsumerRecord.fromRaw(raw))
    const groupId = options.groupId ?? settings.groupId
    // O1: a span per record only when a tracer exports it (decided per worker, see tracing.ts).
    const spans = Tracing.laneSpans(groupId)
    const onFailure = fromCause<E>
    const byMode = new Map<ProcessingMode.ProcessingMode, Processor<R>>()
    const tracedByMode = new Map<ProcessingMode.ProcessingMode, Processor<R>>()
    const processorOf = (mode: ProcessingMode.ProcessingMode, tracing: boolean): Processor<R> => {
      const cache = tracing ? tracedByMode : byMode
      const laneSpans = tracing ? spans : undefined
      let processor = cache.get(mode)
      if (processor === undefined) {
        processor =
          mode._tag === "Partition"
            ? sequential<E, R>(handleRaw, onFailure, laneSpans)
            : concurrent<E, R>(
                {
                  concurrency: mode.concurrency,
                  keyed: mode._tag === "Keyed",
                  maxHeld: Math.max(mode.concurrency * 4, settings.buffer.perPartition)
                },
                handleRaw,
                onFailure,
                laneSpans
              )
        cache.set(mode, processor)
      }
      return processor
    }
    return (worker, flow) =>
      Effect.flatMap(Tracing.exporting, (tracing) =>
        processorOf(modes.get(worker.topicPartition.topic) ?? ProcessingMode.partition, tracing)(worker, flow)
      )
  })
