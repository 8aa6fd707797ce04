/** Token-bucket arithmetic, pure: time in epoch milliseconds. @internal */

/** @internal */
export interface BucketConfig {
  readonly capacity: number
  readonly refillPerSecond: number
}

/** @internal */
export interface Bucket {
  readonly available: number
  readonly updatedAt: number
}

/** Floating-point slack, so a wait computed to the millisecond is always enough. @internal */
const epsilon = 1e-9

/** @internal */
export const full = (config: BucketConfig, now: number): Bucket => ({ available: config.capacity, updatedAt: now })

/** The bucket refilled up to `now` (a clock that went backwards refills nothing). @internal */
export const refill = (config: BucketConfig, bucket: Bucket, now: number): Bucket => {
  const elapsedMs = Math.max(0, now - bucket.updatedAt)
  return {
    available: Math.min(config.capacity, bucket.available + (elapsedMs * config.refillPerSecond) / 1000),
    updatedAt: Math.max(now, bucket.updatedAt)
  }
}

/** @internal */
export const hasEnough = (bucket: Bucket, cost: number): boolean => bucket.available + epsilon >= cost

/** Milliseconds until `cost` is available (Infinity if the bucket never refills). @internal */
export const waitFor = (config: BucketConfig, bucket: Bucket, cost: number): number => {
  if (hasEnough(bucket, cost)) return 0
  if (!(config.refillPerSecond > 0)) return Number.POSITIVE_INFINITY
  return Math.ceil(((cost - bucket.available) * 1000) / config.refillPerSecond)
}

/** @internal */
export const take = (bucket: Bucket, cost: number): Bucket => ({
  available: Math.max(0, bucket.available - cost),
  updatedAt: bucket.updatedAt
})

/**
 * Takes `cost` even when it is not there yet: the bucket goes into debt, so
 * the next caller's wait counts from after this one's. @internal
 */
export const reserve = (bucket: Bucket, cost: number): Bucket => ({
  available: bucket.available - cost,
  updatedAt: bucket.updatedAt
})

/** Whether the bucket is full at `now` (forgetting it loses nothing). @internal */
export const isFullAt = (config: BucketConfig, bucket: Bucket, now: number): boolean =>
  refill(config, bucket, now).available + epsilon >= config.capacity

/** @internal */
export const validate = (label: string, config: BucketConfig): string | undefined => {
  if (!(config.capacity > 0) || !Number.isFinite(config.capacity)) {
    return `${label}.capacity must be a positive finite number, got ${config.capacity}`
  }
  if (!(config.refillPerSecond >= 0) || !Number.isFinite(config.refillPerSecond)) {
    return `${label}.refillPerSecond must be a non-negative finite number, got ${config.refillPerSecond}`
  }
  return undefined
}
