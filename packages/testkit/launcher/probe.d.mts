/**
 * One readiness check of a Kafka broker, with no Kafka client: resolves when the broker at
 * `address` answers metadata naming at least one broker (and, with `groups`, when its group
 * coordinator serves requests); rejects with the reason otherwise.
 */
export declare const probe: (
  address: string,
  options?: { readonly timeoutMs?: number; readonly groups?: boolean }
) => Promise<void>

/** The partitions of `topic` with their leader (-1: none) and replicas (Metadata v4). */
export declare const partitionLeaders: (
  address: string,
  topic: string,
  timeoutMs?: number
) => Promise<
  Array<{
    readonly partition: number
    readonly leader: number
    readonly replicas: Array<number>
    readonly isr: Array<number>
  }>
>

/** The node id of the coordinator of `group` (FindCoordinator v1). */
export declare const groupCoordinator: (address: string, group: string, timeoutMs?: number) => Promise<number>
