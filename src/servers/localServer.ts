import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { SearchAttributeType, type DataConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
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
/** Binds `port` (0: any) on loopback and lets it go: the port bound, or undefined when it is taken. */
function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err)));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

/** The lowest port the kernel hands out for outgoing connections (Linux; 32768 elsewhere, the common default). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * A free loopback port below the kernel's ephemeral range. A port from that range (what binding port 0 gives) can be
 * taken, between this check and the server's bind, by any outgoing connection, or by a client reconnecting to a
 * server that is restarting on it: a TCP self-connect, local port = the port it dials. Servers here restart on the
 * same port (the chaos bench), so their ports come from below the range; with room for the dev server's UI port
 * (port + 1000).
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  const high = ephemeralLow() - 1_001;
  for (let attempt = 0; attempt < 50 && high > low; attempt++) {
    const port = await tryPort(low + Math.floor(Math.random() * (high - low)));
    if (port !== undefined) return port;
  }
  const any = await tryPort(0);
  if (any === undefined) throw new Error('no free loopback port');
  return any;
}

const CLI_TYPE_NAMES: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DOUBLE]: 'Double',
};

const { IndexedValueType } = temporal.api.enums.v1;
const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.KEYWORD]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.BOOL]: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  [SearchAttributeType.DOUBLE]: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
};

/** INDEXED_VALUE_TYPE_KEYWORD_LIST → KeywordList, as the CLI names types. */
const typeName = (type: temporal.api.enums.v1.IndexedValueType) =>
  (IndexedValueType[type] ?? `TYPE_${type}`).replace('INDEXED_VALUE_TYPE_', '').split('_').map((w) => w[0] + w.slice(1).toLowerCase()).join('');

/**
 * The CLI's `--search-attribute` registers attributes only in a fresh database: on a file kept from an earlier run
 * it adds none, so an attribute the router gained since (e.g. Speculative) would be missing and every upsert of it
 * would fail the run's workflow task. Adds the missing ones; one kept with another type is an error.
 */
async function registerRouterSearchAttributes(connection: Connection, where: string, namespace = 'default'): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const registered = customAttributes ?? {};
  const clashes = ROUTER_SEARCH_ATTRIBUTES.filter((k) => k.name in registered && registered[k.name] !== INDEXED_TYPES[k.type]);
  if (clashes.length > 0) {
    const named = clashes.map((k) => `${k.name} is ${typeName(registered[k.name]!)}, the router sets it as ${CLI_TYPE_NAMES[k.type]}`);
    throw new Error(`search attributes in ${where}: ${named.join('; ')} (remove the file, or use another --db)`);
  }
  const missing = ROUTER_SEARCH_ATTRIBUTES.filter((k) => !(k.name in registered));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_TYPES[k.type]!])) });
}

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

  let connection: Connection | undefined;
  try {
    connection = await connectWhenReady(address, child, 30_000);
    // Only a kept database can lack some: a fresh one got them all from the command line.
    if (options.dbFilename) await registerRouterSearchAttributes(connection, options.dbFilename);
  } catch (err) {
    await connection?.close();
    child.kill('SIGKILL');
    await exited;
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
