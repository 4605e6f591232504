/**
 * The speed probe (`lib/speedProbe.ts`) in a process of its own, pinned to the core the engine's
 * children run on: the machine's slow spells need not slow both cores alike, and a probe in the
 * orchestrator, which runs on either core, missed a spell that halved the engine's speed on core 1.
 */
import { emit } from "../lib/common.js"
import { speedProbe } from "../lib/speedProbe.js"

export interface SpeedProbeResult {
  readonly ms: number
}

emit({ ms: speedProbe() } satisfies SpeedProbeResult)
