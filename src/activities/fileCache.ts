import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Rung } from '../routing/ladder';
import type { StrategyEnv } from '../routing/strategies/types';

type Parse<T> = (text: string, subject: string) => T;

/**
 * Files that policies name (artefacts), read and parsed once per worker and again only when the file changes
 * (a retrain), so a request never pays for parsing. Keyed by kind and path: the same file may be read two ways.
 */
export class FileCache {
  private readonly parsed = new Map<string, { mtimeMs: number; size: number; value: unknown }>();

  load<T>(path: string, kind: string, parse: Parse<T>): T {
    const file = resolve(path);
    const { mtimeMs, size } = statSync(file);
    const key = `${kind}\u0000${file}`;
    const hit = this.parsed.get(key);
    if (hit && hit.mtimeMs === mtimeMs && hit.size === size) return hit.value as T;
    const value = parse(readFileSync(file, 'utf8'), file);
    this.parsed.set(key, { mtimeMs, size, value });
    return value;
  }
}

/** The strategies' view of the outside for one catalog: its ladder, and files through a cache. */
export function fileStrategyEnv(ladder: readonly Rung[], files: FileCache = new FileCache()): StrategyEnv {
  return { ladder, load: (path, kind, parse) => files.load(path, kind, parse) };
}
