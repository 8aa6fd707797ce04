/**
 * 32-bit FNV-1a over UTF-16 code units: the stable hash behind the
 * classifier's hashed features and the evaluation's train/validation split.
 *
 * @internal
 */
export const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
