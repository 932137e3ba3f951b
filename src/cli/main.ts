#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateRouteRequest } from '../client';
import { ValidationError } from '../domain/validation';
import { PROJECT_ROOT } from '../servers/binaries';
import { runWorker } from '../worker/main';
import { runDemo } from './demo';
import { openSession, untilInterrupted } from './session';

const USAGE = `model-router — a durable, cost-aware LLM model router on Temporal

Commands:
  demo [--json] [--ui-port N]       Route the built-in batch of ~50 requests on the simulated provider through real
                                    workflows on an embedded dev server; print decisions and the routing metrics.
                                    Without --json, keeps the server and Web UI up until Ctrl-C.
  route --prompt TEXT [--task-type T] [--domain D] [--field-count N] [--request-id ID] [--policy ID]
        [--address HOST:PORT] [--json]
                                    Route one request and print its decision log. Uses the server at --address
                                    (or TEMPORAL_ADDRESS), else an embedded dev server.
  dev [--port 7233] [--ui-port 8233] [--db FILE]
                                    A local Temporal dev server with the Web UI, plus a router worker.
  worker                            The production worker: connects to TEMPORAL_ADDRESS, loads the prebuilt bundle.

Environment: OPENAI_BASE_URL, OPENAI_API_KEY, MODEL_ROUTER_PROVIDER, MODEL_ROUTER_CATALOG, MODEL_ROUTER_POLICIES,
MODEL_ROUTER_JUDGE_MODEL, MODEL_ROUTER_REPLAY_FILES, MODEL_ROUTER_DECISION_LOG (see README).`;

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ValidationError('command line', [{ path: `--${name}`, message: `must be a whole number, got "${value}"` }]);
  return n;
}

async function route(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      prompt: { type: 'string' },
      'task-type': { type: 'string' },
      domain: { type: 'string' },
      'field-count': { type: 'string' },
      'request-id': { type: 'string' },
      policy: { type: 'string' },
      address: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const fieldCount = intOption(values['field-count'], 'field-count');
  // Validated before anything starts, so a bad flag names its field and no server is spun up for it.
  const request = validateRouteRequest({
    requestId: values['request-id'] ?? `cli-${randomUUID()}`,
    prompt: values.prompt,
    ...(values['task-type'] !== undefined ? { taskType: values['task-type'] } : {}),
    ...(values.domain !== undefined ? { domain: values.domain } : {}),
    ...(fieldCount !== undefined ? { fieldCount } : {}),
    ...(values.policy !== undefined ? { policyId: values.policy } : {}),
  });
  const address = values.address ?? process.env.TEMPORAL_ADDRESS;
  const session = await openSession(address ? { address } : {});
  try {
    const log = await session.worker.runUntil(session.router.route(request));
    if (values.json) {
      console.log(JSON.stringify(log, null, 2));
    } else {
      console.log(`${log.requestId}: ${log.selectedModel} → ${log.finalModel} (${log.passed ? 'passed' : 'failed'} gate, score ${log.qualityScore.toFixed(2)}), cost $${log.costUsd.toFixed(6)} [${log.origin}]`);
      console.log(`why: ${log.decision.reason}`);
      console.log(`answer: ${log.answer}`);
    }
  } finally {
    await session.close();
  }
}

async function dev(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, db: { type: 'string' } },
  });
  const port = intOption(values.port, 'port') ?? 7233;
  const uiPort = intOption(values['ui-port'], 'ui-port') ?? 8233;
  const dbFilename = values.db ?? join(PROJECT_ROOT, '.model-router', 'temporal-dev.db');
  const session = await openSession({ embedded: { port, uiPort, dbFilename } });
  console.log(`Temporal dev server: ${session.address} (runs kept in ${dbFilename})`);
  console.log(`Temporal Web UI:     ${session.uiUrl}`);
  console.log(`Router worker polling task queue "${session.worker.options.taskQueue}". Ctrl-C to stop.`);
  try {
    await session.worker.runUntil(untilInterrupted());
  } finally {
    await session.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false }, 'ui-port': { type: 'string' } } });
      const uiPort = intOption(values['ui-port'], 'ui-port');
      return runDemo({ json: values.json ?? false, ...(uiPort !== undefined ? { uiPort } : {}) });
    }
    case 'route':
      return route(rest);
    case 'dev':
      return dev(rest);
    case 'worker':
      return runWorker();
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      throw new Error(`unknown command "${command}"\n\n${USAGE}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`model-router: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(err instanceof ValidationError ? 2 : 1);
    },
  );
}
