import type { ServerResponse } from 'node:http';

/**
 * Server-sent events as OpenAI streams them: one `data: <json>` event per chunk, then `data: [DONE]`. Written only
 * once the answer is known, so a client that has gone away costs nothing: its durable request runs on regardless.
 */
export function writeEventStream(res: ServerResponse, headers: Record<string, string>, chunks: readonly unknown[]): void {
  if (res.destroyed) return;
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  for (const chunk of chunks) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  res.end('data: [DONE]\n\n');
}
