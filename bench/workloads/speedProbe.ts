/**
 * The speed probe (`lib/speedProbe.ts`) in a process of its own, which `run.ts` pins to the core
 * it probes: the machine's slow spells come one core at a time, and a probe in the orchestrator,
 * which runs on either core, missed a spell that halved the engine's speed on core 1.
 */
import { emit } from "../lib/common.js"
import { speedProbe } from "../lib/speedProbe.js"

export interface SpeedProbeResult {
  readonly ms: number
}

emit({ ms: speedProbe() } satisfies SpeedProbeResult)
