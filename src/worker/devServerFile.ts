import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../servers/binaries';

/**
 * Where a running `model-router dev` says where it is, so that `route` sends its request there (to the dev worker,
 * the server the Web UI shows) instead of starting a server of its own for one call. MODEL_ROUTER_DEV_SERVER_FILE
 * moves the file (one per project by default).
 */
export function devServerFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.MODEL_ROUTER_DEV_SERVER_FILE || join(PROJECT_ROOT, '.model-router', 'dev-server.json');
}

export interface RunningDevServer {
  pid: number;
  address: string;
  taskQueue: string;
  uiUrl?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process is there, only not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Announces this process's dev server; the returned function withdraws it (only if the file is still ours). */
export function announceDevServer(server: Omit<RunningDevServer, 'pid'>, file = devServerFile()): () => void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ pid: process.pid, ...server }, null, 2));
  return () => {
    if (runningDevServer(file)?.pid === process.pid) rmSync(file, { force: true });
  };
}

/** The dev server announced in `file`, if its process is still alive; a file left by a killed one is ignored. */
export function runningDevServer(file = devServerFile()): RunningDevServer | undefined {
  let parsed: Partial<RunningDevServer>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunningDevServer>;
  } catch {
    return undefined;
  }
  const { pid, address, taskQueue, uiUrl } = parsed;
  if (typeof pid !== 'number' || typeof address !== 'string' || typeof taskQueue !== 'string' || !alive(pid)) return undefined;
  return { pid, address, taskQueue, ...(typeof uiUrl === 'string' ? { uiUrl } : {}) };
}
