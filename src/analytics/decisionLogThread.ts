/**
 * The decision-log writer's thread: owns its own SQLite connection, so a write waiting on a locked file (SQLite's
 * busy wait is synchronous) blocks this thread only, never the worker's activities or heartbeats.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DecisionLog, ShadowSample } from '../domain/results';
import { DecisionLogStore } from './decisionLogStore';

export interface WriterThreadData {
  path: string;
  busyTimeoutMs: number;
}
export type WriteMessage = { id: number } & ({ log: DecisionLog } | { shadow: ShadowSample });
export type WriteReply = { id: number; inserted?: boolean; error?: string; code?: string };

const { path, busyTimeoutMs } = workerData as WriterThreadData;
let opened: Promise<DecisionLogStore> | undefined;
/** Opened on first use; an open that failed (a locked file mid-migration) is tried again by the next write. */
function store(): Promise<DecisionLogStore> {
  opened ??= DecisionLogStore.open({ kind: 'sqlite', path, display: path }, { busyTimeoutMs }).catch((err: unknown) => {
    opened = undefined;
    throw err;
  });
  return opened;
}

parentPort!.on('message', async (message: WriteMessage) => {
  try {
    const db = await store();
    const inserted = 'log' in message ? await db.record(message.log) : await db.recordShadow(message.shadow);
    parentPort!.postMessage({ id: message.id, inserted } satisfies WriteReply);
  } catch (err) {
    const { message: error, code } = err as Error & { code?: string };
    parentPort!.postMessage({ id: message.id, error, ...(code !== undefined && { code }) } satisfies WriteReply);
  }
});
