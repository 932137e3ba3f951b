import { DefaultLogger, Runtime, type RuntimeOptions } from '@temporalio/worker';

/** Where Core serves the SDK's own metrics (Prometheus text at /metrics); `setting` names the option that chose the port. */
export interface SdkMetricsPort {
  port: number;
  setting: string;
}

let installed = false;

/**
 * The Runtime is installed once per process, before any worker or connection, so the SDK's metrics exporter is part
 * of the installation. A taken port fails here, naming the setting.
 */
function install(options: RuntimeOptions, sdkMetrics: SdkMetricsPort | undefined): void {
  if (installed) {
    if (sdkMetrics) throw new Error(`${sdkMetrics.setting}: the Temporal Runtime is already installed in this process, without metrics`);
    return;
  }
  const metrics = sdkMetrics && { metrics: { prometheus: { bindAddress: `0.0.0.0:${sdkMetrics.port}`, countersTotalSuffix: true, useSecondsForDurations: true, unitSuffix: true } } };
  try {
    Runtime.install({ ...options, telemetryOptions: { ...options.telemetryOptions, ...metrics } });
  } catch (err) {
    if (!sdkMetrics) throw err;
    const why = /address already in use/i.test(String(err)) ? 'is already in use' : `cannot be bound (${err instanceof Error ? err.message : String(err)})`;
    throw new Error(`${sdkMetrics.setting}: port ${sdkMetrics.port}, where the Temporal SDK's runtime metrics go, ${why}`);
  }
  installed = true;
}

/**
 * Warnings only: the CLI's own output is the product and the SDK's info logs would drown it. The CLI handles
 * Ctrl-C itself (to stop its embedded server), so the SDK installs no signal handlers.
 */
export function installQuietRuntime(options: { sdkMetrics?: SdkMetricsPort } = {}): void {
  // Native (Core) logs are forwarded to this logger, which writes to stderr: stdout stays the command's output (--json).
  install({ logger: new DefaultLogger('WARN'), shutdownSignals: [], telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } } }, options.sdkMetrics);
}

/** The production worker's: the SDK's logging, and SIGINT/SIGTERM start a graceful shutdown. */
export function installWorkerRuntime(options: { sdkMetrics?: SdkMetricsPort } = {}): void {
  install({ shutdownSignals: ['SIGINT', 'SIGTERM'] }, options.sdkMetrics);
}
