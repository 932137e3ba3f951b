import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { assertArtefactMatchesCatalog, parseClassifierArtefactJson, type ClassifierArtefact } from '../domain/classifierArtefact';
import type { ModelSpec } from '../domain/catalog';

/**
 * Classifier artefacts by path, loaded once per worker and reloaded when the file changes (a retrain), each
 * checked against the worker's catalog so probabilities are never applied to other models or prices.
 */
export class ArtefactCache {
  private readonly loaded = new Map<string, { mtimeMs: number; size: number; artefact: ClassifierArtefact }>();

  constructor(private readonly catalog: readonly ModelSpec[]) {}

  get(path: string): ClassifierArtefact {
    const file = resolve(path);
    const { mtimeMs, size } = statSync(file);
    const hit = this.loaded.get(file);
    if (hit && hit.mtimeMs === mtimeMs && hit.size === size) return hit.artefact;
    const artefact = parseClassifierArtefactJson(readFileSync(file, 'utf8'), `classifier artefact ${file}`);
    assertArtefactMatchesCatalog(artefact, this.catalog, `classifier artefact ${file}`);
    this.loaded.set(file, { mtimeMs, size, artefact });
    return artefact;
  }
}
