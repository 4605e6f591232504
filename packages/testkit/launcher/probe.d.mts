/**
 * One readiness check of a Kafka broker, with no Kafka client: resolves when the broker at
 * `address` answers metadata naming at least one broker (and, with `groups`, when its group
 * coordinator serves requests); rejects with the reason otherwise.
 */
export declare const probe: (
  address: string,
  options?: { readonly timeoutMs?: number; readonly groups?: boolean }
) => Promise<void>
