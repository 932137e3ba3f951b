/**
 * A deterministic number in [0, 1) from the parts (FNV-1a over the joined text, then a murmur3 finaliser):
 * the same parts always give the same number, on every platform. Seeds folds, simulated judges and explorations.
 */
export function unitHash(...parts: readonly (string | number)[]): number {
  const text = parts.map(String).join('\u0000');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}
