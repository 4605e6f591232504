/**
 * Kafka's murmur2, as the Java client's default partitioner (and kafkajs's) uses it, so that
 * a keyed record lands on the same partition in the simulated cluster as on a real broker:
 * tests that reason about "same key, same partition" keep holding when they move to Kafka.
 */
export const murmur2 = (data: Uint8Array): number => {
  const length = data.length
  const m = 0x5bd1e995
  let h = 0x9747b28c ^ length
  const blocks = length >>> 2
  for (let i = 0; i < blocks; i++) {
    const i4 = i << 2
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m)
    h ^= k
  }
  const tail = length & ~3
  const rest = length & 3
  if (rest === 3) h ^= data[tail + 2]! << 16
  if (rest >= 2) h ^= data[tail + 1]! << 8
  if (rest >= 1) {
    h ^= data[tail]!
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** The partition of a keyed record: `toPositive(murmur2(key)) % partitions`, as in Kafka. */
export const partitionForKey = (key: Uint8Array, partitions: number): number => (murmur2(key) & 0x7fffffff) % partitions
