import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { SearchAttributeType, type DataConverter } from '@temporalio/common';
import { dataConverterFromEnv } from '../codec';
import { ROUTER_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { temporalCliPath } from './binaries';
import { TUNED_DEV_SERVER_ARGS } from './devServerTuning';

export interface LocalServerOptions {
  /** gRPC port; a free one when left out. */
  port?: number;
  /** Web UI port; no UI when left out. */
  uiPort?: number;
  /** SQLite file that keeps runs across restarts; in memory when left out. */
  dbFilename?: string;
  /** false keeps the dev server's stock dynamic config (for measuring what the tuning buys); tuned by default. */
  tuned?: boolean;
  /** Where the server's own output goes (it must not mix with the CLI's stdout, e.g. `--json`). */
  logFile?: string;
  /** The returned client's payload encryption; from the environment when left out. */
  dataConverter?: DataConverter;
  /** A codec server the Web UI sends payloads to for decoding (`model-router codec-server`). */
  codecEndpoint?: string;
}

export interface LocalServer {
  address: string;
  uiUrl?: string;
  client: Client;
  nativeConnection: NativeConnection;
  /** The server process, for measuring its CPU. */
  pid: number | undefined;
  teardown(): Promise<void>;
}

/** A free TCP port on loopback, for servers that must be told their port up front. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const CLI_TYPE_NAMES: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DOUBLE]: 'Double',
};

async function connectWhenReady(address: string, child: ChildProcess, timeoutMs: number): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the Temporal dev server exited with code ${child.exitCode} before it was ready`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the Temporal dev server at ${address} was not ready within ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * The Temporal CLI dev server (the pinned binary, never a download) with the router's search attributes
 * registered, owned by this process: `teardown()` stops it.
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const port = options.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error', ...(options.tuned === false ? [] : TUNED_DEV_SERVER_ARGS)];
  args.push(...(options.uiPort !== undefined ? ['--ui-port', String(options.uiPort), '--ui-disable-news-fetch'] : ['--headless']));
  if (options.dbFilename) {
    mkdirSync(dirname(options.dbFilename), { recursive: true });
    args.push('--db-filename', options.dbFilename);
  }
  if (options.codecEndpoint) args.push('--ui-codec-endpoint', options.codecEndpoint);
  for (const key of ROUTER_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${CLI_TYPE_NAMES[key.type]}`);

  let logFd: number | 'ignore' = 'ignore';
  if (options.logFile) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    logFd = openSync(options.logFile, 'a');
  }
  const child = spawn(temporalCliPath(), args, { stdio: ['ignore', logFd, logFd] });
  if (typeof logFd === 'number') closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${port}`;

  let connection: Connection;
  try {
    connection = await connectWhenReady(address, child, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address,
    pid: child.pid,
    ...(options.uiPort !== undefined ? { uiUrl: `http://localhost:${options.uiPort}` } : {}),
    client: new Client({ connection, dataConverter: options.dataConverter ?? dataConverterFromEnv() }),
    nativeConnection,
    async teardown() {
      await nativeConnection.close();
      await connection.close();
      child.kill('SIGTERM');
      await exited;
    },
  };
}
