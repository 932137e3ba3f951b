import { ValidationError } from '../../domain/validation';

const ERRNO_WORDS: Record<string, string> = { ENOENT: 'no such file', EISDIR: 'is a directory', EACCES: 'permission denied', ENOTDIR: 'a parent is not a directory' };

/**
 * A strategy's start-up check of the artefact its policy names: any failure (a missing file, a stale or broken
 * artefact) becomes a ValidationError on the policy field that names the file, so the operator knows what to fix.
 */
export function checkArtefact(field: string, path: string, load: () => unknown): void {
  try {
    load();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const message = typeof code === 'string' ? `cannot read "${path}": ${ERRNO_WORDS[code] ?? code}` : err instanceof Error ? err.message : String(err);
    throw new ValidationError('routing policy', [{ path: field, message }]);
  }
}
