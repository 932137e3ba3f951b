import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

/**
 * Warnings only: the CLI's own output is the product and the SDK's info logs would drown it. The CLI handles
 * Ctrl-C itself (to stop its embedded server), so the SDK installs no signal handlers.
 */
export function installQuietRuntime(): void {
  if (installed) return;
  // Native (Core) logs are forwarded to this logger, which writes to stderr: stdout stays the command's output (--json).
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [], telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } } });
  installed = true;
}
