import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { parseOrThrow, ValidationError } from '../domain/validation';

/** Temporal's codec-server wire format: payloads as proto JSON, bytes in base64. */
const PayloadsBodySchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string()).nullish(), data: z.string().nullish() })),
});
type JsonPayload = z.infer<typeof PayloadsBodySchema>['payloads'][number];

const fromJson = ({ metadata, data }: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(data ?? '', 'base64'),
});
const toJson = ({ metadata, data }: Payload) => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(data ?? []).toString('base64'),
});

// A whole workflow history can come in one request; Temporal caps a single payload at 2 MB.
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** A free port when left out. */
  port?: number;
  /** Web UI origins allowed to call from the browser, e.g. http://localhost:8233. */
  uiOrigins: string[];
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType }).end(body);
}

/**
 * `/encode` and `/decode` for the Temporal Web UI and `temporal --codec-endpoint`, so an operator can read
 * encrypted payloads while history itself holds only ciphertext. The UI calls from the browser, hence CORS for
 * its origin, with the `X-Namespace` header it always sends (one key set serves every namespace here).
 */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const allowed = new Set(options.uiOrigins.map((o) => new URL(o).origin));
  const server = createServer(async (req, res) => {
    const origin = req.headers.origin;
    if (origin && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    }
    res.setHeader('Vary', 'Origin');
    const path = new URL(req.url ?? '/', 'http://codec').pathname;
    const operation = path === '/encode' ? 'encode' : path === '/decode' ? 'decode' : undefined;
    if (!operation) return send(res, 404, 'the codec server serves POST /encode and POST /decode');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (req.method !== 'POST') return send(res, 405, `${path} takes POST`);
    try {
      const text = await readBody(req);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new HttpError(400, 'the body is not JSON');
      }
      const body = parseOrThrow(PayloadsBodySchema, json, `${path} body`);
      const payloads = await options.codec[operation](body.payloads.map(fromJson));
      send(res, 200, JSON.stringify({ payloads: payloads.map(toJson) }), 'application/json');
    } catch (err) {
      // Codec errors name a key id or a failed check, never key material, so the caller may see them.
      const status = err instanceof HttpError ? err.status : err instanceof ValidationError ? 400 : 422;
      send(res, status, err instanceof Error ? err.message : String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: whoever reaches this server can decrypt every payload. The browser that runs the UI is local.
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the codec server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // A browser keeps its connection alive; without this, close() would wait for the browser.
        server.closeAllConnections();
      }),
  };
}
