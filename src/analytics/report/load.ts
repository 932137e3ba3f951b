/** Reads a report's window from a decision log and computes it. */
import { existsSync } from 'node:fs';
import { DecisionLogStore } from '../decisionLogStore';
import { parseDecisionLogLocation } from '../store/location';
import { buildReport, type ReportOptions } from './compute';
import type { RoutingReport } from './model';

export interface LoadedReport {
  report: RoutingReport;
  /** The database, as it may be shown (no password). */
  source: string;
  /** Requests in the whole log, to tell an empty log from an empty window. */
  storedRequests: number;
}

export async function loadReport(db: string, setting: string, options: ReportOptions): Promise<LoadedReport> {
  const location = parseDecisionLogLocation(db, setting);
  // A report reads: it never creates an empty SQLite file where the user mistyped a path.
  if (location.kind === 'sqlite' && location.path !== ':memory:' && !existsSync(location.path)) {
    throw new Error(`${setting}: no decision log at ${location.path} (run requests first, e.g. "npm run demo", or pass --db)`);
  }
  const store = await DecisionLogStore.open(location, { setting });
  try {
    const [requests, shadows, storedRequests] = await Promise.all([store.requests(options.filter), store.shadowSamples(options.filter), store.count()]);
    return { report: buildReport(requests, shadows, options), source: location.display, storedRequests };
  } finally {
    await store.close();
  }
}
