import { ValidationError } from '../../domain/validation';

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A report window's edge: an ISO-8601 date or time (a date alone is its UTC midnight; a time without an offset
 * is UTC), or a duration back from `now` (30m, 24h, 7d). Returned as the ISO string the log's timestamps use.
 */
export function parseInstant(value: string, flag: string, now: Date): string {
  const relative = /^(\d+)([mhd])$/.exec(value);
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]).toISOString();
  if (ISO.test(value)) {
    const withZone = value.length === 10 ? `${value}T00:00:00Z` : /(?:Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
    const time = Date.parse(withZone.replace(' ', 'T'));
    if (Number.isFinite(time)) return new Date(time).toISOString();
  }
  throw new ValidationError('command line', [
    { path: flag, message: `must be an ISO-8601 date or time (2026-12-01, 2026-12-01T09:00Z) or a duration back from now (30m, 24h, 7d), got "${value}"` },
  ]);
}

/** Both edges, checked against each other. */
export function parseWindow(since: string | undefined, until: string | undefined, now = new Date()): { since?: string; until?: string } {
  const window = { ...(since !== undefined && { since: parseInstant(since, '--since', now) }), ...(until !== undefined && { until: parseInstant(until, '--until', now) }) };
  if (window.since && window.until && window.since >= window.until) {
    throw new ValidationError('command line', [{ path: '--until', message: `must be after --since (${window.since}), got ${window.until}` }]);
  }
  return window;
}
