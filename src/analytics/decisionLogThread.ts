/**
 * The decision-log writer's thread: owns its own SQLite connection, so a write waiting on a locked file (SQLite's
 * busy wait is synchronous) blocks this thread only, never the worker's activities or heartbeats.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DecisionLog } from '../domain/results';
import { insertDecisionLog, openDecisionLogDb } from './decisionLogStore';

export interface WriterThreadData {
  path: string;
  busyTimeoutMs: number;
}
export type WriteMessage = { id: number; log: DecisionLog };
export type WriteReply = { id: number; error?: string; code?: string };

const { path, busyTimeoutMs } = workerData as WriterThreadData;
let db: ReturnType<typeof openDecisionLogDb> | undefined;
let openError: Error | undefined;
try {
  db = openDecisionLogDb(path, busyTimeoutMs);
} catch (err) {
  openError = err as Error;
}

parentPort!.on('message', ({ id, log }: WriteMessage) => {
  try {
    if (!db) throw openError ?? new Error('not open');
    insertDecisionLog(db, log);
    parentPort!.postMessage({ id } satisfies WriteReply);
  } catch (err) {
    const { message, code } = err as Error & { code?: string };
    parentPort!.postMessage({ id, error: message, ...(code !== undefined && { code }) } satisfies WriteReply);
  }
});
