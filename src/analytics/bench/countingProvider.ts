import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from '../../routing/random';

/**
 * A FAKE model provider for benchmarks: a loopback server speaking OpenAI's Chat Completions wire format, which
 * counts every call it receives by its Idempotency-Key (so repeated calls of one attempt series are seen) and
 * answers after a random latency, so a worker killed at a random moment is often caught mid-call. Its answers are
 * labelled fake; nothing here calls a real model.
 */

/** Every answer reports this usage, so each call's price is known. */
export const FAKE_USAGE = { prompt_tokens: 100, completion_tokens: 50 } as const;
/** A prompt holding this makes the fake judge fail the cheapest model's answer, so the request escalates. */
export const ESCALATE_MARKER = '[escalate]';

export interface CountedCall {
  key: string;
  model: string;
  /** Date.now() when the call arrived. */
  at: number;
}

export interface CountingProvider {
  baseUrl: string;
  calls: CountedCall[];
  /** Answer every later call after exactly `ms`, so timings compare without the random latency. */
  fixLatency(ms: number): void;
  close(): Promise<void>;
}

export async function startCountingProvider(options: { minLatencyMs: number; maxLatencyMs: number; cheapestModel: string; seed?: number }): Promise<CountingProvider> {
  const random = seededRandom(options.seed ?? 7);
  let latency = () => options.minLatencyMs + random() * (options.maxLatencyMs - options.minLatencyMs);
  const calls: CountedCall[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; messages: { content: string }[]; response_format?: unknown };
      calls.push({ key: String(req.headers['idempotency-key'] ?? ''), model: body.model, at: Date.now() });
      const prompt = body.messages.map((m) => m.content).join('\n');
      // The judge asks for JSON; everything else is an answer.
      const content = body.response_format
        ? JSON.stringify(
            prompt.includes(ESCALATE_MARKER) && prompt.includes(`fake answer from ${options.cheapestModel}`)
              ? { score: 3, reason: 'fake judge: escalate' }
              : { score: 10, reason: 'fake judge: fine' },
          )
        : `fake answer from ${body.model}`;
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'fake', object: 'chat.completion', created: 0, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: FAKE_USAGE }));
      }, latency());
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    fixLatency(ms) {
      latency = () => ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
