import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A loopback server speaking OpenAI's Chat Completions wire format, scripted per call by the test. */

export interface ChatMessage {
  role: string;
  content: string;
}

/** The request body as the server received it; `model` and `messages` are always present. */
export interface ChatRequestBody extends Record<string, unknown> {
  model: string;
  messages: ChatMessage[];
}

export interface RecordedCall {
  model: string;
  messages: ChatMessage[];
  /** The whole JSON body, for fields such as `response_format` or `max_tokens`. */
  body: ChatRequestBody;
  /** Lower-case header names, as node:http gives them. */
  headers: IncomingHttpHeaders;
  /** Set when the client hung up before the answer was sent (a cancelled or timed-out call). */
  aborted: boolean;
}

/** How to answer one call. `body` (raw text) wins over `json`; with neither, the answer has no body. */
export interface Scripted {
  status?: number;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering; close() cuts the wait short. */
  delayMs?: number;
}

export type ScriptHandler = (body: ChatRequestBody, callIndex: number) => Scripted | Promise<Scripted>;

export interface OpenAIServer {
  /** Ends in `/v1`, like OpenAI's, so a client appends `/chat/completions`. */
  baseUrl: string;
  calls: RecordedCall[];
  close(): Promise<void>;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * A chat.completion body. Without `usage`, counts characters ÷ 4 for the answer and 10 for the prompt;
 * `null` leaves usage out, as some compatible servers do.
 */
export function chatCompletion(model: string, content: string, usage?: Usage | null): Record<string, unknown> {
  const counts = usage === undefined ? { prompt_tokens: 10, completion_tokens: Math.ceil(content.length / 4) } : usage;
  return {
    id: `chatcmpl-${model}-${content.length}`,
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    ...(counts && { usage: { ...counts, total_tokens: counts.prompt_tokens + counts.completion_tokens } }),
  };
}

/** An error body in OpenAI's shape. */
export function openAIError(message: string, type = 'invalid_request_error', code: string | null = null): Record<string, unknown> {
  return { error: { message, type, param: null, code } };
}

/** Answers every call with `answer from <model>`, with usage counted from the messages. */
export const echoHandler: ScriptHandler = (body) => {
  const content = `answer from ${body.model}`;
  const promptChars = body.messages.reduce((sum, m) => sum + m.content.length, 0);
  return { json: chatCompletion(body.model, content, { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.ceil(content.length / 4) }) };
};

export async function startOpenAIServer(handler: ScriptHandler = echoHandler): Promise<OpenAIServer> {
  const calls: RecordedCall[] = [];
  const sockets = new Set<Socket>();
  const pendingDelays = new Set<() => void>();
  let closed = false;

  const send = (res: ServerResponse, answer: Scripted): void => {
    if (closed || res.destroyed) return;
    const text = answer.body ?? (answer.json === undefined ? '' : JSON.stringify(answer.json));
    res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
    res.end(text);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
          return send(res, { status: 404, json: openAIError(`no route ${req.method} ${req.url}`) });
        }
        let body: ChatRequestBody;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequestBody;
        } catch {
          return send(res, { status: 400, json: openAIError('request body is not JSON') });
        }
        const callIndex = calls.length;
        const call: RecordedCall = { model: body.model, messages: body.messages, body, headers: req.headers, aborted: false };
        calls.push(call);
        res.on('close', () => {
          if (!res.writableEnded) call.aborted = true;
        });
        let answer: Scripted;
        try {
          answer = await handler(body, callIndex);
        } catch (err) {
          // A broken script shows up in the test as a 500 that says why.
          return send(res, { status: 500, json: openAIError(`test handler failed: ${String(err)}`, 'server_error') });
        }
        if (answer.delayMs) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, answer.delayMs);
            function done(): void {
              clearTimeout(timer);
              pendingDelays.delete(done);
              resolve();
            }
            pendingDelays.add(done);
            // A client that gave up (timeout, cancellation) needs no answer.
            res.on('close', done);
          });
        }
        send(res, answer);
      })();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const done of [...pendingDelays]) done();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive and half-answered sockets would keep server.close() waiting forever.
      for (const socket of sockets) socket.destroy();
      await stopped;
    },
  };
}
