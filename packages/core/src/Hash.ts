/**
 * Stable, fast string hashing shared across packages: the prompt classifier's
 * hashed features, the evaluation's train/validation split, and the
 * monitors' per-run sampling all use the same function.
 *
 * @since 0.1.0
 */

/**
 * 32-bit FNV-1a over UTF-16 code units, as an unsigned integer.
 *
 * @since 0.1.0 @category hashing
 */
export const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
