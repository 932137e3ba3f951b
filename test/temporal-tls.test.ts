import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server } from 'node:tls';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ValidationError } from '../src/domain/validation';
import { temporalSecurityFromEnv } from '../src/worker/temporalConnection';
import { runCli } from './helpers/cli';
import { devServerEnv } from './helpers/temporal';

const dir = mkdtempSync(join(tmpdir(), 'temporal-tls-test-'));
const caPath = join(dir, 'ca.crt');
const certPath = join(dir, 'server.crt');
const keyPath = join(dir, 'server.key');

function issuesOf(env: NodeJS.ProcessEnv): string[] {
  try {
    temporalSecurityFromEnv(env);
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected a ValidationError');
}

describe('Temporal connection settings from the environment', () => {
  before(() => {
    // A private CA, and a certificate for localhost that it signs (rustls, in the worker, refuses a CA as the end entity).
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=model-router test CA', '-keyout', 'ca.key', '-out', caPath);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', keyPath, '-out', 'server.csr');
    writeFileSync(join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', caPath, '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', certPath);
  });

  it('plain TCP by default; an API key alone (Temporal Cloud), TEMPORAL_TLS, and TLS files each as the SDK takes them', () => {
    assert.deepEqual(temporalSecurityFromEnv({}), {});
    assert.deepEqual(temporalSecurityFromEnv({ TEMPORAL_API_KEY: 'cloud-key' }), { apiKey: 'cloud-key' });
    assert.deepEqual(temporalSecurityFromEnv({ TEMPORAL_TLS: 'true' }), { tls: true });
    assert.deepEqual(temporalSecurityFromEnv({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' }), { apiKey: 'k', tls: false });
    assert.deepEqual(temporalSecurityFromEnv({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: caPath, TEMPORAL_TLS_SERVER_NAME: 'localhost' }), { tls: { serverRootCACertificate: readFileSync(caPath), serverNameOverride: 'localhost' } });
    assert.deepEqual(temporalSecurityFromEnv({ TEMPORAL_TLS_CLIENT_CERT_PATH: certPath, TEMPORAL_TLS_CLIENT_KEY_PATH: keyPath }), { tls: { clientCertPair: { crt: readFileSync(certPath), key: readFileSync(keyPath) } } });
  });

  it('a mistake names the variable and the rule', () => {
    assert.deepEqual(issuesOf({ TEMPORAL_TLS_CLIENT_CERT_PATH: certPath }), ['TEMPORAL_TLS_CLIENT_KEY_PATH: is required with the other half of the client certificate pair (mTLS needs both)']);
    assert.deepEqual(issuesOf({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'missing.pem') }), [`TEMPORAL_TLS_SERVER_CA_CERT_PATH: file "${join(dir, 'missing.pem')}" does not exist`]);
    assert.deepEqual(issuesOf({ TEMPORAL_TLS: 'yes' }), ['TEMPORAL_TLS: must be true or false, got "yes"']);
    assert.deepEqual(issuesOf({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_NAME: 'localhost' }), ['TEMPORAL_TLS: is false, but TLS files or a server name are set: remove one or the other']);
  });

  describe('through a TLS front (a TLS-terminating proxy before a dev server)', () => {
    let env: TestWorkflowEnvironment;
    let proxy: Server;
    let address: string;

    before(async () => {
      env = await devServerEnv();
      const [host, port] = env.address.split(':');
      proxy = createServer({ key: readFileSync(keyPath), cert: readFileSync(certPath), ALPNProtocols: ['h2'] }, (socket) => {
        const upstream = connect(Number(port), host);
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      address = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    });

    after(async () => {
      await new Promise((resolve) => proxy?.close(resolve));
      await env?.teardown();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the production worker and `route --address` connect over TLS with the CA they are given; without it, `route` is refused', { timeout: 120_000 }, async () => {
      const taskQueue = `tls-${randomUUID()}`;
      const tls = { TEMPORAL_TLS_SERVER_CA_CERT_PATH: caPath, TEMPORAL_TLS_SERVER_NAME: 'localhost', MODEL_ROUTER_TASK_QUEUE: taskQueue };
      const cli = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
      const worker = spawn(process.execPath, [cli, 'worker'], {
        env: { ...process.env, ...tls, TEMPORAL_ADDRESS: address, MODEL_ROUTER_DECISION_LOG: join(dir, 'decisions.sqlite') },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let output = '';
      worker.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      try {
        for (let i = 0; i < 600 && !output.includes('model-router worker polling') && worker.exitCode === null; i++) await sleep(50);
        assert.match(output, new RegExp(`model-router worker polling "${taskQueue}" on ${address}`));
        const routed = await runCli(['route', '--prompt', 'Classify: "where is my parcel"', '--task-type', 'classification', '--request-id', 'over-tls', '--address', address, '--json'], { env: tls });
        assert.equal(routed.code, 0, routed.stderr);
        assert.equal(JSON.parse(routed.stdout).workflowId, 'route-default-over-tls');
        // The run is on the server behind the proxy, finished by the worker that reached it over TLS (the answer
        // left early; the run ends once the row is written).
        const finished = (await env.client.workflow.getHandle('route-default-over-tls').result()) as { requestId: string };
        assert.equal(finished.requestId, 'over-tls');

        const untrusted = await runCli(['route', '--prompt', 'hello', '--request-id', 'untrusted', '--address', address, '--json'], { env: { TEMPORAL_TLS: 'true', MODEL_ROUTER_TASK_QUEUE: taskQueue } });
        assert.notEqual(untrusted.code, 0);
        assert.match(untrusted.stderr, new RegExp(`cannot reach Temporal at ${address}`));
      } finally {
        worker.kill('SIGTERM');
        await exited;
      }
    });
  });
});
