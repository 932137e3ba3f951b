/** Where a decision log lives: a SQLite file (the embedded default) or a PostgreSQL database shared by workers. */
import { checkDecisionLogPath } from '../../worker/decisionLogPath';

export type DecisionLogLocation =
  | { kind: 'sqlite'; path: string; display: string }
  | { kind: 'postgres'; url: string; /** The URL without its password, for messages. */ display: string };

/**
 * Reads MODEL_ROUTER_DECISION_LOG or --db: `postgres://` / `postgresql://` URLs, else a SQLite file path
 * (optionally `sqlite:PATH`). Anything else that looks like a URL is refused, naming `setting` and the rule.
 */
export function parseDecisionLogLocation(value: string, setting: string): DecisionLogLocation {
  const fail = (rule: string): never => {
    throw new Error(`${setting}: ${rule}`);
  };
  if (value.trim() === '') fail('is empty: give a SQLite file path or a postgres:// URL');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return fail(`"${value.replace(/:[^:@/]*@/, ':***@')}" is not a valid URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)`);
    }
    if (!url.hostname) fail('names no host (postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
    if (url.pathname.length <= 1) fail(`names no database: add it after the host, e.g. postgres://${url.host}/model_router`);
    const display = new URL(url.href);
    if (display.password) display.password = '***';
    return { kind: 'postgres', url: url.href, display: display.href };
  }
  // A Windows drive letter or a bare path is a file; any other scheme is a typo or an unsupported database.
  if (scheme === 'sqlite') value = value.slice('sqlite:'.length);
  else if (scheme && scheme.length > 1) fail(`"${scheme}:" is not supported: give a SQLite file path or a postgres:// URL`);
  checkDecisionLogPath(value, setting);
  return { kind: 'sqlite', path: value, display: value };
}
