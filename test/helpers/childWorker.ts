import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { WORKER_READY } from './workerProcess';

const PROJECT_ROOT = resolve(__dirname, '..', '..');

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker polls; rejects if it exits first or takes over a minute. */
  ready: Promise<void>;
  stderr: () => string;
}

/** Starts test/helpers/workerProcess.ts in a child process; its stderr is kept for failure messages. */
export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join('test', 'helpers', 'workerProcess.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolveReady, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`worker process did not start polling within 60 s:\n${stderr}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes(WORKER_READY)) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker process exited (${code ?? signal}) before polling:\n${stderr}`));
    });
  });
  return { child, ready, stderr: () => stderr };
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
