import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import type { ModelSpec } from '../src/domain/catalog';
import { OpenAICompatibleProvider } from '../src/providers/openai';
import { ProviderError, type CompletionRequest, type ProviderErrorKind } from '../src/providers/types';
import { chatCompletion, openAIError, startOpenAIServer, type OpenAIServer, type ScriptHandler, type Scripted } from './helpers/openaiServer';

const model: ModelSpec = {
  id: 'small-1',
  provider: 'openai',
  tier: 1,
  tierName: 'small',
  inputUsdPer1M: 0.15,
  outputUsdPer1M: 0.6,
  contextWindow: 128_000,
  timeouts: { startToCloseMs: 30_000, scheduleToCloseMs: 120_000 },
};

function request(overrides: Partial<CompletionRequest> = {}): CompletionRequest {
  return {
    requestId: 'req-1',
    attempt: 1,
    model,
    prompt: 'What is the capital of France?',
    history: [],
    taskType: 'qa',
    domain: 'general',
    expectedOutputTokens: 50,
    ...overrides,
  };
}

let servers: OpenAIServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(handler?: ScriptHandler): Promise<OpenAIServer> {
  const server = await startOpenAIServer(handler);
  servers.push(server);
  return server;
}

function providerFor(server: OpenAIServer, options: { apiKey?: string; requestTimeoutMs?: number; maxOutputTokens?: number } = {}) {
  return new OpenAICompatibleProvider({ baseUrl: server.baseUrl, apiKey: 'sk-test', ...options });
}

/** Asserts a ProviderError of `kind` whose message mentions every one of `mentions`; returns it for more checks. */
async function rejectsWith(promise: Promise<unknown>, kind: ProviderErrorKind, mentions: string[] = []): Promise<ProviderError> {
  const err = await promise.then(
    () => assert.fail(`expected a ${kind} ProviderError, but the call succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  assert.equal(err.details.provider, 'openai');
  for (const text of mentions) assert.match(err.message, new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return err;
}

describe('OpenAICompatibleProvider', () => {
  test('returns the answer and usage, sending model, history and prompt with the bearer key', async () => {
    const server = await serve(() => ({ json: chatCompletion('small-1', 'Paris.', { prompt_tokens: 21, completion_tokens: 3 }) }));
    const history = [
      { role: 'system' as const, content: 'Answer briefly.' },
      { role: 'user' as const, content: 'Hi' },
      { role: 'assistant' as const, content: 'Hello!' },
    ];

    const completion = await providerFor(server).complete(request({ history }));

    assert.equal(completion.text, 'Paris.');
    assert.equal(completion.inputTokens, 21);
    assert.equal(completion.outputTokens, 3);
    assert.equal(completion.origin, 'live');
    assert.ok(completion.latencyMs >= 0);
    assert.equal(completion.recordedQuality, undefined);

    assert.equal(server.calls.length, 1);
    const call = server.calls[0]!;
    assert.equal(call.model, 'small-1');
    assert.deepEqual(call.messages, [...history, { role: 'user', content: 'What is the capital of France?' }]);
    assert.equal(call.headers.authorization, 'Bearer sk-test');
    assert.equal(call.headers['content-type'], 'application/json');
    assert.equal(call.body.response_format, undefined);
    assert.equal(call.body.max_tokens, undefined);
  });

  test('sends providerModel instead of the catalog id when the catalog gives one', async () => {
    const server = await serve();
    const completion = await providerFor(server).complete(request({ model: { ...model, providerModel: 'gpt-4o-mini-2024-07-18' } }));

    assert.equal(server.calls[0]!.model, 'gpt-4o-mini-2024-07-18');
    assert.equal(completion.text, 'answer from gpt-4o-mini-2024-07-18');
  });

  test('asks for a JSON object when the request has an output schema, and caps output when configured', async () => {
    const server = await serve();
    await providerFor(server, { maxOutputTokens: 256 }).complete(
      request({ outputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }),
    );

    assert.deepEqual(server.calls[0]!.body.response_format, { type: 'json_object' });
    assert.equal(server.calls[0]!.body.max_tokens, 256);
  });

  test('sends no Authorization header without a key and estimates tokens when usage is missing', async () => {
    const server = await serve(() => ({ json: chatCompletion('small-1', '12345678', null) }));
    const completion = await providerFor(server, { apiKey: '' }).complete(request({ prompt: 'abcdefghijkl' }));

    assert.equal(server.calls[0]!.headers.authorization, undefined);
    assert.equal(completion.inputTokens, 3);
    assert.equal(completion.outputTokens, 2);
  });

  test('fromEnv reads the base URL, key and timeout, and rejects a bad timeout', async () => {
    const server = await serve();
    const provider = OpenAICompatibleProvider.fromEnv({
      OPENAI_BASE_URL: `${server.baseUrl}/`,
      OPENAI_API_KEY: 'sk-env',
      MODEL_ROUTER_HTTP_TIMEOUT_MS: '5000',
    });
    const completion = await provider.complete(request());

    assert.equal(completion.text, 'answer from small-1');
    assert.equal(server.calls[0]!.headers.authorization, 'Bearer sk-env');
    assert.throws(() => OpenAICompatibleProvider.fromEnv({ MODEL_ROUTER_HTTP_TIMEOUT_MS: 'soon' }), /MODEL_ROUTER_HTTP_TIMEOUT_MS.*"soon"/);
  });

  test('400 with an OpenAI error body is an invalid request naming the status and message', async () => {
    const server = await serve(() => ({ status: 400, json: openAIError("'messages' must contain at least one message") }));
    const err = await rejectsWith(providerFor(server).complete(request()), 'invalid-request', [
      '400',
      "'messages' must contain at least one message",
    ]);
    assert.equal(err.details.status, 400);
  });

  test('401 is an invalid request', async () => {
    const server = await serve(() => ({ status: 401, json: openAIError('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key') }));
    const err = await rejectsWith(providerFor(server).complete(request()), 'invalid-request', ['401', 'Incorrect API key provided']);
    assert.equal(err.details.status, 401);
  });

  test('429 is rate-limited with the wait from Retry-After or retry-after-ms', async () => {
    const answers: Scripted[] = [
      { headers: { 'retry-after': '7' } },
      { headers: { 'retry-after': '7', 'retry-after-ms': '1500' } },
      { headers: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() } },
      { headers: {} },
    ];
    const server = await serve((_body, i) => ({ status: 429, json: openAIError('Rate limit reached', 'requests'), ...answers[i] }));
    const provider = providerFor(server);

    const seconds = await rejectsWith(provider.complete(request()), 'rate-limited', ['429', 'Rate limit reached']);
    assert.equal(seconds.details.retryAfterMs, 7000);
    assert.equal(seconds.details.status, 429);

    const ms = await rejectsWith(provider.complete(request()), 'rate-limited');
    assert.equal(ms.details.retryAfterMs, 1500);

    const date = await rejectsWith(provider.complete(request()), 'rate-limited');
    const wait = date.details.retryAfterMs;
    assert.ok(wait !== undefined && wait > 20_000 && wait <= 30_000, `retryAfterMs from an HTTP date was ${wait}`);

    const none = await rejectsWith(provider.complete(request()), 'rate-limited');
    assert.equal(none.details.retryAfterMs, undefined);
  });

  test('408 is a timeout', async () => {
    const server = await serve(() => ({ status: 408, body: '' }));
    const err = await rejectsWith(providerFor(server).complete(request()), 'timeout', ['408', '(empty body)']);
    assert.equal(err.details.status, 408);
  });

  test('5xx is unavailable, even with a non-JSON body from a proxy', async () => {
    const server = await serve((_body, i) =>
      i === 0
        ? { status: 500, json: openAIError('The server had an error while processing your request.', 'server_error') }
        : { status: 502, body: '<html><body>502 Bad Gateway</body></html>', headers: { 'content-type': 'text/html' } },
    );
    const provider = providerFor(server);

    const err = await rejectsWith(provider.complete(request()), 'unavailable', ['500', 'The server had an error']);
    assert.equal(err.details.status, 500);
    await rejectsWith(provider.complete(request()), 'unavailable', ['502', '502 Bad Gateway']);
  });

  test('a slow answer past requestTimeoutMs is a timeout, returned without waiting for the server', async () => {
    const server = await serve(() => ({ delayMs: 2000, json: chatCompletion('small-1', 'too late') }));
    const started = Date.now();

    await rejectsWith(providerFor(server, { requestTimeoutMs: 200 }).complete(request()), 'timeout', ['200 ms']);

    assert.ok(Date.now() - started < 2000, 'the provider waited for the slow server instead of timing out');
  });

  test('a body that is not JSON is a malformed response', async () => {
    const server = await serve(() => ({ body: '{"id": "chatcmpl-1", "choices": [' }));
    const err = await rejectsWith(providerFor(server).complete(request()), 'malformed-response', ['200', 'not JSON']);
    assert.equal(err.details.status, 200);
  });

  test('JSON without choices, or with non-string content, is a malformed response', async () => {
    const server = await serve((_body, i) =>
      i === 0
        ? { json: { id: 'chatcmpl-1', object: 'chat.completion', usage: { prompt_tokens: 1, completion_tokens: 1 } } }
        : { json: { choices: [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'stop' }] } },
    );
    const provider = providerFor(server);

    await rejectsWith(provider.complete(request()), 'malformed-response', ['200', 'choices']);
    await rejectsWith(provider.complete(request()), 'malformed-response', ['choices.0.message.content']);
  });

  test('a refused connection is unavailable', async () => {
    const port = await closedPort();
    const provider = new OpenAICompatibleProvider({ baseUrl: `http://127.0.0.1:${port}/v1` });
    await rejectsWith(provider.complete(request()), 'unavailable', ['ECONNREFUSED']);
  });

  test('credentials in the base URL go out as Basic auth and are named in no message, even on a refused connection', async () => {
    const server = await serve(() => ({ status: 401, json: openAIError('no such user router, password pw-secret-1') }));
    const withCredentials = new OpenAICompatibleProvider({ baseUrl: server.baseUrl.replace('http://', 'http://router:pw-secret-1@') });
    const rejected = await rejectsWith(withCredentials.complete(request()), 'invalid-request', ['password [redacted]']);
    assert.equal(server.calls[0]!.headers.authorization, `Basic ${Buffer.from('router:pw-secret-1').toString('base64')}`);
    assert.doesNotMatch(rejected.message, /pw-secret-1/);

    const port = await closedPort();
    const refused = new OpenAICompatibleProvider({ baseUrl: `http://router:pw-secret-1@127.0.0.1:${port}/v1` });
    const unavailable = await rejectsWith(refused.complete(request()), 'unavailable', [`http://127.0.0.1:${port}/v1`, 'ECONNREFUSED']);
    assert.doesNotMatch(unavailable.message, /pw-secret-1|router:/);
  });

  test('an API key echoed in an error body is redacted, and a key beside URL credentials is refused', async () => {
    const server = await serve(() => ({ status: 500, body: 'proxy error: upstream said key opaque-key-123 is unknown' }));
    const err = await rejectsWith(providerFor(server, { apiKey: 'opaque-key-123' }).complete(request()), 'unavailable', ['key [redacted] is unknown']);
    assert.doesNotMatch(err.message, /opaque-key-123/);
    assert.throws(
      () => new OpenAICompatibleProvider({ baseUrl: 'https://router:pw-secret-1@gateway.example/v1', apiKey: 'sk-test' }),
      (e: Error) => /https:\/\/gateway\.example\/v1 carries user:password@ credentials and an API key/.test(e.message) && !e.message.includes('pw-secret-1'),
    );
  });

  test('cancellation mid-request rejects with the AbortError itself, not a ProviderError', async () => {
    let received!: () => void;
    const requestArrived = new Promise<void>((resolve) => (received = resolve));
    const server = await serve(() => {
      received();
      return { delayMs: 5000, json: chatCompletion('small-1', 'too late') };
    });
    const cancellation = new AbortController();

    const call = providerFor(server).complete(request({ signal: cancellation.signal }));
    await requestArrived;
    cancellation.abort();

    const err = await call.then(
      () => assert.fail('expected the call to be cancelled'),
      (e: unknown) => e,
    );
    assert.ok(!(err instanceof ProviderError), `cancellation was converted into ${String(err)}`);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'AbortError');
  });

  test('a signal already aborted before the call starts never reaches the server', async () => {
    const server = await serve();
    const err = await providerFor(server)
      .complete(request({ signal: AbortSignal.abort() }))
      .then(
        () => assert.fail('expected the call to be cancelled'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof Error && err.name === 'AbortError', `got ${String(err)}`);
    assert.equal(server.calls.length, 0);
  });
});

/** A port that was just free: bind it, then let it go, so connecting is refused. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  assert.ok(address && typeof address === 'object');
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return address.port;
}
