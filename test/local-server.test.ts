import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { freePort, startLocalServer, type LocalServer } from '../src/servers/localServer';
import { createRouterWorker } from '../src/worker/createWorker';
import { installQuietRuntime } from '../src/worker/runtime';
import { defaultPolicies } from './helpers/catalog';
import { judgedModels, loopbackDeps } from './helpers/loopbackRouter';
import { startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { RoutingToEndClient } from './helpers/routerClient';
import { workflowBundle } from './helpers/temporal';

const { IndexedValueType } = temporal.api.enums.v1;
const { INDEXED_VALUE_TYPE_KEYWORD: KEYWORD, INDEXED_VALUE_TYPE_BOOL: BOOL, INDEXED_VALUE_TYPE_DOUBLE: DOUBLE } = IndexedValueType;
/** What the router's workflows set, by hand: name and the type its values have. */
const ROUTER_ATTRIBUTES = {
  RoutedModel: KEYWORD,
  FinalModel: KEYWORD,
  RoutingStrategy: KEYWORD,
  Escalated: BOOL,
  QualityScore: DOUBLE,
  CostUsd: DOUBLE,
  Speculative: BOOL,
  Tenant: KEYWORD,
};

async function customAttributes(server: LocalServer): Promise<Record<string, number>> {
  const { customAttributes } = await server.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
  return { ...customAttributes };
}

/**
 * `model-router dev` keeps its runs in a database file across restarts; a file written by an earlier version of the
 * router lacks the attributes added since, and the CLI's `--search-attribute` does not add them to a kept file.
 */
describe('startLocalServer on a database file kept from an earlier run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'router-local-server-'));
  let openai: OpenAIServer;
  const servers: LocalServer[] = [];
  const start = async (dbFilename: string) => {
    const server = await startLocalServer({ dbFilename });
    servers.push(server);
    return server;
  };
  const stop = async (server: LocalServer) => {
    servers.splice(servers.indexOf(server), 1);
    await server.teardown();
  };

  before(async () => {
    installQuietRuntime();
    openai = await startOpenAIServer(judgedModels());
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.teardown()));
    await openai?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers every attribute the router sets, so a run that sets one added since completes', { timeout: 120_000 }, async () => {
    const dbFilename = join(dir, 'older.db');
    const older = await start(dbFilename);
    assert.deepEqual(await customAttributes(older), ROUTER_ATTRIBUTES, 'a fresh file gets them from the command line');
    // The file as a router without speculative routing left it.
    await older.client.connection.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: ['Speculative'] });
    assert.ok(!('Speculative' in (await customAttributes(older))));
    await stop(older);

    const server = await start(dbFilename);
    assert.deepEqual(await customAttributes(server), ROUTER_ATTRIBUTES);
    const race = defaultPolicies({ id: 'race', speculative: { whenConfidenceBelow: 0.9, partner: 'best', prefer: 'cost' } });
    const taskQueue = 'kept-database';
    const worker = await createRouterWorker({
      connection: server.nativeConnection,
      client: server.client,
      taskQueue,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(openai.baseUrl, { policies: race }),
    });
    const router = new RoutingToEndClient({ client: server.client, taskQueue });
    const log = await worker.runUntil(router.route({ requestId: 'kept-db-race', prompt: 'Classify the intent: "charged twice"', taskType: 'classification', policyId: 'race' }));
    assert.equal(log.attempts[1]?.cause, 'speculative', 'the run raced');
    const described = await server.client.workflow.getHandle(log.workflowId).describe();
    assert.deepEqual(described.searchAttributes.Speculative, [true]);
    await stop(server);
  });

  it('refuses a file where an attribute has another type, naming the attribute, both types and the file', { timeout: 60_000 }, async () => {
    const dbFilename = join(dir, 'clash.db');
    const older = await start(dbFilename);
    const operator = older.client.connection.operatorService;
    await operator.removeSearchAttributes({ namespace: 'default', searchAttributes: ['Escalated'] });
    await operator.addSearchAttributes({ namespace: 'default', searchAttributes: { Escalated: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD } });
    await stop(older);

    await assert.rejects(start(dbFilename), (err: Error) => {
      assert.match(err.message, /clash\.db: Escalated is Keyword, the router sets it as Bool/);
      return true;
    });
  });
});

describe('freePort', () => {
  it('gives loopback ports below the kernel\'s ephemeral range (no outgoing connection can take them), free to bind', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    for (const port of ports) {
      assert.ok(port >= 10_000 && port + 1_000 < low, `${port} (+1000 for a UI port) below ${low}`);
      const server = createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
