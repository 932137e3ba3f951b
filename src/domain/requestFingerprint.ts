import { createHash } from 'node:crypto';
import type { RouteRequest } from './request';

/** JSON with every object's keys in sorted order, so equal values give equal text whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What a requestId stands for: sha256 of the validated request (defaults applied), every field included, since
 * each can change the answer. Computed before the request is stored or sent, so it never depends on how the prompt
 * travels to the workflow.
 */
export function requestFingerprint(request: RouteRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}
