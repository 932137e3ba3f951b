import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type Logger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporalCliPath, temporalTestServerPath } from '../../src/servers/binaries';
import { TUNED_DEV_SERVER_ARGS } from '../../src/servers/devServerTuning';
import { ROUTER_SEARCH_ATTRIBUTES } from '../../src/workflows/searchAttributes';

let runtimeInstalled = false;
/** Keeps the SDK's expected-failure chatter (activity retries we provoke on purpose) out of the test output. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  runtimeInstalled = true;
}

/**
 * Sends every worker and workflow log line, Core's included, to `logger`: for tests that read what the worker
 * logged. Call it before the file creates any server or worker; the Runtime is installed once per process.
 */
export function installRuntimeLogger(logger: Logger): void {
  if (runtimeInstalled) throw new Error('the Temporal Runtime is already installed in this process');
  Runtime.install({ logger, telemetryOptions: { logging: { filter: { core: 'INFO', other: 'INFO' }, forward: {} } } });
  runtimeInstalled = true;
}

/** The real time-skipping test server, from the pinned binary (never the SDK's download). */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  // The test server takes no search attributes on its command line, but does serve the operator API.
  const { IndexedValueType } = temporal.api.enums.v1;
  const indexed = { KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL, DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE } as const;
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(ROUTER_SEARCH_ATTRIBUTES.map((k) => [k.name, indexed[k.type as keyof typeof indexed]])),
  });
  return env;
}

/** The real Temporal dev server (CLI), with the router's search attributes registered. */
export async function devServerEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      searchAttributes: ROUTER_SEARCH_ATTRIBUTES,
      extraArgs: [...TUNED_DEV_SERVER_ARGS],
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundled once per test file, shared by every worker the file creates. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: new DefaultLogger('ERROR') });
  return bundle;
}
