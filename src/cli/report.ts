/** `model-router report`: parses the flags, prints the report or writes it as JSON or HTML. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { renderReportHtml } from '../analytics/report/html';
import { loadReport } from '../analytics/report/load';
import { GROUP_BYS, type GroupBy } from '../analytics/report/model';
import { formatReport } from '../analytics/report/terminal';
import { parseWindow } from '../analytics/report/window';
import { ValidationError } from '../domain/validation';
import { DEFAULT_DECISION_LOG } from '../worker/wiring';

export interface ReportCommandOptions {
  db?: string;
  since?: string;
  until?: string;
  policy?: string;
  tenant?: string;
  groupBy?: string;
  html?: string;
  json?: boolean;
  webUi?: string;
  namespace?: string;
}

/** Runs the report and returns what it printed (the demo prints it too). */
export async function runReport(options: ReportCommandOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const groupBy = (options.groupBy ?? 'strategy') as GroupBy;
  if (!GROUP_BYS.includes(groupBy)) throw new ValidationError('command line', [{ path: '--group-by', message: `must be one of ${GROUP_BYS.join(', ')}, got "${options.groupBy}"` }]);
  const [db, setting] = options.db ? [options.db, '--db'] : env.MODEL_ROUTER_DECISION_LOG ? [env.MODEL_ROUTER_DECISION_LOG, 'MODEL_ROUTER_DECISION_LOG'] : [DEFAULT_DECISION_LOG, 'decision log (default)'];
  const webUiBase = options.webUi ?? env.MODEL_ROUTER_WEB_UI;
  if (webUiBase !== undefined && !/^https?:\/\/[^/]/.test(webUiBase)) throw new ValidationError('command line', [{ path: '--web-ui', message: `must be an http(s) URL such as http://localhost:8233, got "${webUiBase}"` }]);
  const filter = { ...parseWindow(options.since, options.until), ...(options.policy && { policy: options.policy }), ...(options.tenant && { tenant: options.tenant }) };
  const { report, source, storedRequests } = await loadReport(db, setting, {
    groupBy,
    filter,
    ...(webUiBase && { webUi: { base: webUiBase, namespace: options.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default' } }),
  });
  const lines: string[] = [];
  if (options.json) lines.push(JSON.stringify({ source, storedRequests, ...report }, null, 2));
  else if (report.totals.requests === 0) {
    lines.push(storedRequests === 0 ? `The decision log ${source} has no requests yet.` : `No requests in this window (the decision log ${source} has ${storedRequests} in all).`);
  } else lines.push(formatReport(report, source));
  if (options.html) {
    const path = resolve(options.html);
    writeFileSync(path, renderReportHtml(report, { title: `Routing report — ${source}` }));
    lines.push(options.json ? '' : `\nHTML report: ${path}`);
  }
  const text = lines.filter((l) => l !== '').join('\n');
  console.log(text);
  return text;
}

export async function reportCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      db: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      policy: { type: 'string' },
      tenant: { type: 'string' },
      'group-by': { type: 'string' },
      html: { type: 'string' },
      json: { type: 'boolean', default: false },
      'web-ui': { type: 'string' },
      namespace: { type: 'string' },
    },
  });
  const { 'group-by': groupBy, 'web-ui': webUi, ...rest } = values;
  await runReport({ ...rest, ...(groupBy !== undefined && { groupBy }), ...(webUi !== undefined && { webUi }) });
}
