import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

/** Kernel pseudo-filesystems: SQLite on a file there fails obscurely or, on some /proc files, spins at 100 % CPU. */
const PSEUDO_FILESYSTEMS = ['/proc', '/sys', '/dev'];

function writable(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** A path under a regular file is ENOTDIR, not ENOENT: it does not exist either. */
function exists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}

/**
 * Refuses a decision-log path SQLite cannot use as its file, before SQLite opens it (whose own errors are vague:
 * "unable to open database file"), naming `setting` (e.g. MODEL_ROUTER_DECISION_LOG), the path and the rule.
 */
export function checkDecisionLogPath(path: string, setting: string): void {
  if (path === ':memory:') return;
  const fail = (rule: string): never => {
    throw new Error(`${setting}: "${path}" ${rule}`);
  };
  const absolute = resolve(path);
  // The file, or else its nearest existing ancestor (the store creates the missing directories), symlinks resolved.
  let existing = absolute;
  while (!exists(existing)) existing = dirname(existing);
  const real = realpathSync(existing);
  const pseudo = PSEUDO_FILESYSTEMS.find((root) => real === root || real.startsWith(`${root}${sep}`));
  if (pseudo) fail(`is under ${pseudo}: the decision log must be a SQLite file on a real filesystem`);
  const stat = statSync(real);
  if (existing === absolute) {
    if (stat.isDirectory()) fail('is a directory: the decision log must be a SQLite file (e.g. .model-router/decision-log.db)');
    if (!stat.isFile()) fail('is not a regular file: the decision log must be a SQLite file');
    if (!writable(real, constants.R_OK | constants.W_OK)) fail('is not readable and writable by this process');
    // SQLite's write-ahead log is a second file beside the database.
    if (!writable(dirname(real), constants.W_OK)) fail(`cannot be written: its directory ${dirname(real)} is not writable (SQLite keeps its write-ahead log there)`);
  } else {
    if (!stat.isDirectory()) fail(`cannot be created: ${real} is not a directory`);
    if (!writable(real, constants.W_OK)) fail(`cannot be created: ${real} is not writable by this process`);
  }
}
