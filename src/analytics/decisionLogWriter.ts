import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DecisionLog, DecisionLogSink, ShadowSample } from '../domain/results';
import type { WriteMessage, WriteReply, WriterThreadData } from './decisionLogThread';
import { DEFAULT_BUSY_TIMEOUT_MS } from './decisionLogStore';

export interface DecisionLogWriterOptions {
  /** How long one write waits for another connection's lock before it fails. */
  busyTimeoutMs?: number;
  /** Writes waiting for the thread; beyond this, record() refuses at once (back-pressure) rather than queue without bound. */
  maxPending?: number;
}

/** The thread's file sits beside this one: .js once built; .ts under tsx (tests, dev), which the thread must register too. */
function startThread(workerData: WriterThreadData): Worker {
  const file = join(__dirname, `decisionLogThread${extname(__filename)}`);
  if (extname(file) === '.js') return new Worker(file, { workerData });
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true, workerData });
}

/** A write the writer refused or the database failed; the activity retries it (the row is idempotent). */
export class DecisionLogWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecisionLogWriteError';
  }
}

/**
 * Decision-log writes on a thread of their own: record() never blocks the event loop, whatever the file is doing.
 * A locked file fails the write after the busy timeout with an error that says so; the caller retries.
 */
export class DecisionLogWriter implements DecisionLogSink {
  private readonly thread: Worker;
  private readonly pending = new Map<number, { resolve: (inserted: boolean) => void; reject: (err: Error) => void }>();
  private readonly busyTimeoutMs: number;
  private readonly maxPending: number;
  private nextId = 0;
  private failed: Error | undefined;

  constructor(
    readonly path: string,
    options: DecisionLogWriterOptions = {},
  ) {
    this.busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    this.maxPending = options.maxPending ?? 1_000;
    this.thread = startThread({ path, busyTimeoutMs: this.busyTimeoutMs });
    this.thread.on('message', (reply: WriteReply) => this.settle(reply));
    this.thread.on('error', (err) => this.failAll(err));
    this.thread.on('exit', (code) => this.failAll(new Error(`decision-log writer thread exited (code ${code})`)));
    // An idle writer does not keep the process alive (after the listeners: adding one refs the thread again).
    this.thread.unref();
  }

  /** Resolves to true when this call wrote the row, false when it was already there. */
  record(log: DecisionLog): Promise<boolean> {
    return this.send({ log });
  }

  recordShadow(shadow: ShadowSample): Promise<boolean> {
    return this.send({ shadow });
  }

  private send(body: { log: DecisionLog } | { shadow: ShadowSample }): Promise<boolean> {
    if (this.failed) return Promise.reject(new DecisionLogWriteError(`decision log ${this.path}: ${this.failed.message}`));
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(new DecisionLogWriteError(`decision log ${this.path}: ${this.pending.size} writes already waiting (the file is slow or locked); try again later`));
    }
    const id = this.nextId++;
    if (this.pending.size === 0) this.thread.ref();
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread.postMessage({ id, ...body } satisfies WriteMessage);
    });
  }

  /** Resolves once every accepted write has settled, then stops the thread. */
  async close(): Promise<void> {
    while (this.pending.size > 0 && !this.failed) await new Promise((r) => setTimeout(r, 10));
    this.failed ??= new Error('closed');
    await this.thread.terminate();
  }

  private settle({ id, inserted, error, code }: WriteReply): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.thread.unref();
    if (error === undefined) return waiter.resolve(inserted ?? false);
    const reason =
      code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED'
        ? `is locked by another connection (waited ${this.busyTimeoutMs} ms): ${error}`
        : `write failed: ${error}${code ? ` (${code})` : ''}`;
    waiter.reject(new DecisionLogWriteError(`decision log ${this.path} ${reason}`));
  }

  private failAll(err: Error): void {
    this.failed ??= err;
    for (const [id, waiter] of this.pending) {
      this.pending.delete(id);
      waiter.reject(new DecisionLogWriteError(`decision log ${this.path}: ${err.message}`));
    }
  }
}
