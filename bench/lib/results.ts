/**
 * The shape of `bench/results/latest.json` and `quick.json`. Times in seconds unless the
 * name says otherwise, rates per second, sizes in MB (10^6 bytes), ratios and growth as
 * plain fractions (1.05 = 5 % more; `rss_growth` 0.03 = 3 %).
 */
import type { ProfileSummary } from "./profile.js"

export interface ContestantSummary {
  readonly name: string
  /** Median over the rounds of records ÷ first-to-last seconds. */
  readonly records_per_sec: number
  /** The same in MB of record values (100 bytes each) per second. */
  readonly mb_per_sec: number
  /** Median first-to-last time. */
  readonly seconds: number
  /** Median time from before connecting to the last record (group join included). */
  readonly total_seconds: number
  /** Median of the rounds' peak resident set sizes. */
  readonly peak_rss_mb: number
  /** Committed offsets after the last round, summed (-1: not checked). */
  readonly committed: number
  readonly rounds: ReadonlyArray<{
    readonly round: number
    readonly records_per_sec: number
    readonly seconds: number
    readonly total_seconds: number
    readonly peak_rss_mb: number
    readonly wall_seconds: number
  }>
}

export interface ThroughputSection {
  readonly records: number
  readonly record_bytes: number
  readonly partitions: number
  readonly rounds: number
  readonly contestants: {
    readonly raw_kafkajs: ContestantSummary
    /**
     * The peak-RSS ladder (since session 36): (a)'s loop with each batch run through Effect,
     * then the same with Sluice's modules loaded but not run. Not in the ratios.
     */
    readonly raw_kafkajs_effect?: ContestantSummary | undefined
    readonly raw_kafkajs_effect_loaded?: ContestantSummary | undefined
    readonly sluice: ContestantSummary
    readonly effect_kafka: ContestantSummary
    readonly java: ContestantSummary | undefined
    /** The librdkafka client's own safe loop on its native API (`consume(4000)`, commit per call). */
    readonly raw_confluent?: ContestantSummary | undefined
    /** Sluice over `@sluice/confluent`. */
    readonly sluice_confluent?: ContestantSummary | undefined
  }
  /** Sluice ÷ raw kafkajs, records/s (medians). Goal ≥ 0.95. */
  readonly ratio_vs_raw_kafkajs: number
  /** Sluice ÷ effect-kafka. Goal ≥ 1. */
  readonly ratio_vs_effect_kafka: number
  /** Sluice ÷ Kafka's Java consumer: how far from the ceiling. */
  readonly ratio_vs_java: number
  /** Sluice over librdkafka ÷ the client's own fastest safe loop. Goal ≥ 1 (issue 13). */
  readonly ratio_confluent_vs_raw?: number | undefined
  /** Sluice over librdkafka, records/s (median). */
  readonly confluent_records_per_sec?: number | undefined
}

export interface EngineSection {
  readonly records: number
  readonly partitions: number
  readonly keys: number
  readonly concurrency: number
  readonly rounds: number
  /** Pinned to one CPU with taskset (GC threads included). */
  readonly one_core: boolean
  readonly records_per_sec: { readonly partition: number; readonly keyed: number; readonly unordered: number }
  /** Wall time per record, all in (simulated cluster + engine + handler). */
  readonly us_per_record: { readonly partition: number; readonly keyed: number; readonly unordered: number }
  /** The simulated cluster delivering to a listener that only counts. */
  readonly driver_records_per_sec: number
  /** What is left for the engine: us_per_record minus the cluster's own per-record time. */
  readonly engine_us_per_record: { readonly partition: number; readonly keyed: number; readonly unordered: number }
  /** CPU seconds ÷ wall seconds over the run (1 = one core busy throughout). */
  readonly cpu_per_wall: { readonly partition: number; readonly keyed: number; readonly unordered: number }
  /**
   * Bare Effect over the same no-op handlers, in the same process: one fiber running them in
   * turn (`loop`, partition mode's floor) and `Effect.forEach` with the modes' concurrency
   * (`forEach`). Absent in results from before 2026-12-02 (session 22).
   */
  readonly effect_records_per_sec?: { readonly loop: number; readonly forEach: number } | undefined
  /**
   * The usual speed probe over the runs (`lib/speedProbe.ts`'s `usualProbe`, ms), and how many rounds
   * ran again because runs fell in a slow spell. Absent before session 35.
   */
  readonly probe_ms?: number | undefined
  readonly repeated_rounds?: number | undefined
  readonly runs: ReadonlyArray<{
    readonly round: number
    readonly mode: string
    readonly records_per_sec: number
    /** The core it ran on, the faster one right before it (absent before session 35: core 1). */
    readonly core?: number | undefined
    /** The run's slower probe ÷ `probe_ms`: above 1.25 it fell in a slow spell. */
    readonly slowed_by?: number | undefined
    /** Whether the medians counted it: runs in a slow spell do not, while three others of the mode are left. */
    readonly counted?: boolean | undefined
  }>
}

/** The cost of observability on workload 2 (partition mode): CPU time per record against both off. */
export interface ObservabilitySection {
  readonly records: number
  readonly partitions: number
  readonly rounds: number
  /** Each variant in a process of its own: an OpenTelemetry tracer's garbage must not slow the others. */
  readonly one_process_per_run: true
  readonly load_average_1min: number
  /** Median CPU µs per record of each variant. */
  readonly cpu_us_per_record: Record<string, number>
  /** Median records/s (wall) of each variant. */
  readonly records_per_sec: Record<string, number>
  /** CPU per record ÷ the `off` variant's, minus 1: 0.05 is 5 % more. */
  readonly overhead: {
    readonly metrics: number
    /** An Effect tracer whose spans record nothing: Sluice's per-record span work alone. */
    readonly noop_tracer: number
    /** `@effect/opentelemetry` with `AlwaysOffSampler`: its context hook runs on every fiber step. */
    readonly non_recording_tracer: number
    /** The same tracer, every record carrying an unsampled producer's `traceparent` (no record span). */
    readonly unsampled_parents: number
    readonly recording_tracer: number
  }
  readonly runs: ReadonlyArray<{ readonly round: number; readonly variant: string; readonly cpu_us_per_record: number }>
  /** Metrics against both off in longer runs, apart from the tracers: what `overhead.metrics` is. */
  readonly metrics_pass?: MetricsPass | undefined
  /** What a tracer's context hook costs per instruction, without Sluice, and per record of the engine. */
  readonly hook?: TracerHook | undefined
  /** The same on workload 1 (Sluice over kafkajs, real broker). */
  readonly throughput?: ObservabilityThroughput | undefined
}

/**
 * Effect 3 runs the installed tracer's `context` hook around every instruction; with a current
 * span, `@effect/opentelemetry`'s makes and enters an OpenTelemetry context each time.
 */
export interface TracerHook {
  /** Instructions of the bare loop each variant runs per round. */
  readonly instructions: number
  readonly rounds: number
  /** Median CPU nanoseconds per instruction of the bare loop (no Sluice). */
  readonly ns_per_instruction: { readonly off: number; readonly noop_tracer: number; readonly non_recording: number }
  /** Instructions the engine runs per record (partition mode, no-op handler, simulated cluster). */
  readonly instructions_per_record: number
  /** (non_recording − off) × instructions_per_record: the OpenTelemetry hook's cost per record, before any span. */
  readonly otel_hook_ns_per_record: number
  /** That cost ÷ the engine's CPU per record with both off (`cpu_us_per_record.off`). */
  readonly otel_hook_share_of_off: number
}

/** Metrics on against both off: longer runs than the tracer variants', alternating, each a process of its own. */
export interface MetricsPass {
  readonly records: number
  /** Processes per variant. */
  readonly rounds: number
  /** Rounds each process runs after its warm-up (1 before session 32). */
  readonly rounds_per_process?: number | undefined
  /** Median CPU µs per record. */
  readonly cpu_us_per_record: { readonly off: number; readonly metrics: number }
  /** The counted runs (all of them before session 35). */
  readonly runs: { readonly off: ReadonlyArray<number>; readonly metrics: ReadonlyArray<number> }
  /** Median with metrics ÷ median off, minus 1. */
  readonly overhead: number
  /** The speed probes, as in `EngineSection` (absent before session 35). */
  readonly probe_ms?: number | undefined
  readonly repeated_rounds?: number | undefined
  /** Every process, counted or not: its rounds' CPU µs a record and its slower probe ÷ `probe_ms`. */
  readonly processes?:
    | ReadonlyArray<{
        readonly round: number
        readonly variant: string
        readonly cpu_us_per_record: ReadonlyArray<number>
        readonly core: number
        readonly slowed_by: number
        readonly counted: boolean
      }>
    | undefined
}

export interface ObservabilityThroughput {
  readonly records: number
  readonly rounds: number
  readonly load_average_1min: number
  /** Median records/s (first record to last) of each variant. */
  readonly records_per_sec: Record<string, number>
  /** The `off` variant's records/s ÷ the variant's, minus 1: 0.05 is 5 % slower. */
  readonly overhead: {
    readonly metrics: number
    /** An Effect tracer whose spans record nothing (absent before session 32). */
    readonly noop_tracer?: number | undefined
    readonly non_recording_tracer: number
    readonly recording_tracer: number
  }
}

export interface KeyedRow {
  readonly keys: number
  /** Median first-to-last time. */
  readonly seconds: number
  readonly ideal_seconds: number
  readonly ratio_to_ideal: number
  /** The least time any scheduler could take with these latencies (see `keyedFloorMs`). */
  readonly floor_seconds: number
  /**
   * The same sleeps with Effect alone under the same key constraint (each key's in order, the
   * keys `Effect.forEach({ concurrency })`), measured in the simulated cluster's run.
   */
  readonly effect_seconds?: number | undefined
  /** `seconds` ÷ `effect_seconds`. Goal ≤ 1.1. */
  readonly ratio_to_effect?: number | undefined
}

export interface KeyedSection {
  readonly records: number
  readonly concurrency: number
  readonly latency_ms: string
  readonly rounds: number
  readonly memory: ReadonlyArray<KeyedRow>
  readonly broker: ReadonlyArray<KeyedRow>
  /** The worst ratio of both clusters. Goal ≤ 1.2. */
  readonly worst_ratio_to_ideal: number
  readonly worst_ratio_memory: number
  readonly worst_ratio_broker: number
  /** The handler's sleeps run one after another without Sluice, over their ideal sum. */
  readonly timer_ratio: number
  /** The sleeps, `concurrency` at a time, with `Effect.forEach` alone, over the unlimited-keys ideal. */
  readonly effect_baseline_ratio: number
  /** The same with promises and `setTimeout`. */
  readonly promise_baseline_ratio: number
}

export interface MemorySection {
  readonly records: number
  readonly seconds: number
  readonly records_per_sec: number
  /** (RSS at the end − RSS at 10 % of the records) ÷ RSS at 10 %. Goal ≤ 0.10. */
  readonly rss_growth: number
  readonly rss_mb_at_10_percent: number
  readonly rss_mb_at_end: number
  readonly rss_mb_max: number
  readonly heap_mb_at_10_percent: number
  readonly heap_mb_at_end: number
  /** RSS with the cluster's log full, before consuming. */
  readonly baseline_rss_mb: number
  /** [fraction of the run, RSS MB, heap MB], downsampled. */
  readonly samples: ReadonlyArray<readonly [number, number, number]>
}

export interface RevocationSection {
  readonly rounds: number
  readonly handler_ms: number
  readonly heartbeat_ms: number
  /** Median time from the second member starting to join to its first record. */
  readonly ms: { readonly drain: number; readonly interrupt: number }
  /** Median of the old owner's revocation time (stop, drain or interrupt, final commit). */
  readonly revoke_ms: { readonly drain: number; readonly interrupt: number }
  readonly runs: ReadonlyArray<{
    readonly round: number
    readonly strategy: string
    readonly ms: number
    readonly revoke_ms: number
    readonly interrupted: boolean
  }>
}

export interface ImportFigures {
  readonly core: number
  readonly kafkajs: number
  readonly testkit: number
  /** `effect`'s barrel, as the program imports it. */
  readonly effect: number
  readonly platform_node: number
}

export interface ColdstartSection {
  /** Measured rounds (each runs both variants) after the warm-up. */
  readonly rounds: number
  /** Median milliseconds from spawn to the first record handled: built packages, plain node. Goal ≤ 1000. */
  readonly built_first_record_ms: number
  readonly built_min_ms: number
  readonly built_max_ms: number
  /** The built program bundled by esbuild into one ES module (Sluice, Effect, kafkajs inside), plain node. */
  readonly bundled_first_record_ms: number
  readonly bundled_min_ms: number
  readonly bundled_max_ms: number
  /** The same program in the workspace under tsx, Sluice compiled from its sources at start-up. */
  readonly tsx_first_record_ms: number
  readonly tsx_min_ms: number
  readonly tsx_max_ms: number
  /**
   * Median CPU time (user + system, all threads) each variant's process had used at its first
   * record: the work, which the machine's load stretches less than the wall time (Linux only).
   */
  readonly built_cpu_ms: number | undefined
  readonly bundled_cpu_ms: number | undefined
  readonly tsx_cpu_ms: number | undefined
  /**
   * Median milliseconds of each `import()` with plain node on the built packages, in a fresh
   * process each, what it imports included: the packages, and the program's other imports.
   */
  readonly import_ms: ImportFigures
  /** The same imports' CPU time (`process.cpuUsage()`). */
  readonly import_cpu_ms: ImportFigures
  /** Median milliseconds from spawn to exit of `node -e 0`. */
  readonly node_start_ms: number
  /** `os.loadavg()` (1, 5, 15 min) before the first run and after the last import. */
  readonly load_average: { readonly before: ReadonlyArray<number>; readonly after: ReadonlyArray<number> }
  /** Building, packing and installing the packages into the scratch project, compiling the program. */
  readonly setup_seconds: number
  readonly goal_met: boolean
  readonly runs: ReadonlyArray<{
    readonly round: number
    readonly variant: string
    readonly ms: number
    readonly cpu_ms: number | undefined
  }>
}

export interface Goal {
  readonly id: string
  readonly goal: string
  readonly value: number | undefined
  readonly display: string
  readonly met: boolean | undefined
}

/**
 * Exactly once against at least once on the same workload (records/s ratios), per sink: `kafka`
 * (a topic → topic pipeline on the real broker, kafkajs transactions).
 */
export interface ExactlyOnceSection {
  readonly kafka?:
    | {
        readonly records: number
        readonly partitions: number
        readonly rounds: number
        /** Median records/s of each variant; `exactly_once` by transaction size. */
        readonly records_per_sec: {
          readonly at_least_once: number
          readonly at_least_once_batched: number
          readonly exactly_once: Readonly<Record<string, number>>
        }
        /** The transaction size (records per partition) with the best ratio. */
        readonly best_size: number
        /** Exactly once at `best_size` ÷ at least once with the same handler (a send per record). */
        readonly ratio: number
        /** Exactly once at `best_size` ÷ at least once as a batch pipeline (a send per chunk of 500). */
        readonly ratio_vs_batched: number
        readonly load_average: { readonly before: ReadonlyArray<number>; readonly after: ReadonlyArray<number> }
        /** The same pipeline on `@sluice/confluent` (librdkafka): at least once, exactly once by size, the best ratio. */
        readonly confluent?:
          | {
              readonly records_per_sec: {
                readonly at_least_once: number
                readonly exactly_once: Readonly<Record<string, number>>
              }
              readonly best_size: number
              readonly ratio: number
            }
          | undefined
      }
    | undefined
  /** The PostgreSQL sink (workload `exactly_once_postgres`): the external offset store against at least once. */
  readonly postgres?: ExactlyOncePostgresSection | undefined
}

export interface Results {
  readonly mode: "full" | "quick"
  readonly date: string
  readonly seconds: number
  readonly machine: Record<string, string | number>
  readonly versions: Record<string, string>
  readonly throughput?: ThroughputSection | undefined
  readonly engine?: EngineSection | undefined
  readonly observability?: ObservabilitySection | undefined
  readonly keyed?: KeyedSection | undefined
  readonly memory?: MemorySection | undefined
  readonly revocation?: RevocationSection | undefined
  readonly coldstart?: ColdstartSection | undefined
  /** Workload 7, per contestant (`kafkajs`, `confluent_eager`, `confluent_cooperative`, `confluent_kip848`, `confluent_kip848_static`). */
  readonly deploy?: Record<string, DeploySection> | undefined
  readonly exactly_once?: ExactlyOnceSection | undefined
  readonly goals: ReadonlyArray<Goal>
  readonly profiles: Record<string, ProfileSummary>
  readonly errors: Record<string, string>
  /**
   * Sections measured again after the full run (`--only`, merged by hand): which, the last
   * time and commit, and a note on each re-measurement. A full run leaves it out.
   */
  readonly rerun?:
    | {
        readonly date: string
        readonly sections: ReadonlyArray<string>
        readonly commit: string
        readonly note: string
      }
    | undefined
}

/** A rolling deploy of three consumer processes (workload 7), for one contestant. */
export interface DeploySection {
  readonly restarts: number
  readonly rate: number
  readonly handler_ms: number
  /** Partitions whose handling stopped > 100 ms, per restart. */
  readonly paused_per_restart: ReadonlyArray<number>
  /** … of those, partitions that stayed with a member that was not restarted. */
  readonly unmoved_paused_per_restart: ReadonlyArray<number>
  /** Partitions that changed member, per restart. */
  readonly moved_per_restart: ReadonlyArray<number>
  /** The restarted member's own partitions that came back to it (static membership), per restart. */
  readonly own_per_restart: ReadonlyArray<number>
  readonly moved_per_restart_max: number
  /** The longest pause of a partition that stayed with a member that was not restarted. Goal 0 under incremental protocols. */
  readonly unmoved_pause_ms_max: number
  readonly moved_pause_ms_max: number
  /** The longest pause of the restarted member's own partitions (static membership: they come back to it). */
  readonly own_pause_ms_max: number
  /** The longest gap between two handled records of a partition in steady state: the noise floor. */
  readonly steady_gap_ms_max: number
  readonly produced: number
  readonly duplicates: number
  /** Never handled, yet below the group's committed offset at the end: skipped for good. */
  readonly lost: number
  /** Produced but not handled yet when the run stopped its members (above the committed offset: lag, not loss). */
  readonly unhandled_at_end: number
}

/**
 * Workload `exactly_once_postgres`: records/s of the external offset store (one transaction per
 * chunk or record, the position saved in it) against the idempotent at-least-once sink, on the
 * same records from the simulated cluster; the ratio is exactly once / at least once.
 */
export interface ExactlyOncePostgresSection {
  readonly records: number
  readonly chunk: number
  readonly partitions: number
  readonly rounds: number
  readonly load_average_1min: number
  readonly batch: { readonly at_least_once: number; readonly exactly_once: number; readonly ratio: number }
  readonly record: { readonly at_least_once: number; readonly exactly_once: number; readonly ratio: number }
}
