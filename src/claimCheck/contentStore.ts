import type { Payload, PayloadCodec } from '@temporalio/common';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** Content too large for Temporal's history, stored once by its SHA-256 and fetched by activities. */
export interface ContentStore {
  /** Stores `text` (idempotent: the same text is the same key) and returns its SHA-256. */
  put(text: string): Promise<string>;
  /** The text stored under `sha256`; throws ContentMissingError when there is none. */
  get(sha256: string): Promise<string>;
}

export class ContentMissingError extends Error {
  constructor(readonly sha256: string, where: string) {
    super(`content ${sha256} is not in the content store at ${where}: the client and the worker must share it (MODEL_ROUTER_CONTENT_DIR)`);
    this.name = 'ContentMissingError';
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * A directory of content-addressed files (one per SHA-256), written atomically. Client and worker must see the same
 * directory (one host, or a shared volume). With a payload codec the files are encrypted as history payloads are,
 * so a prompt is no more readable at rest here than in Temporal.
 */
export class FileContentStore implements ContentStore {
  constructor(
    readonly dir: string,
    private readonly codec?: PayloadCodec,
  ) {}

  async put(text: string): Promise<string> {
    const sha256 = sha256Hex(text);
    const file = this.file(sha256);
    if (existsSync(file)) return sha256;
    const payload: Payload = { metadata: { encoding: Buffer.from('text/plain') }, data: Buffer.from(text, 'utf8') };
    const [stored] = this.codec ? await this.codec.encode([payload]) : [payload];
    const body = JSON.stringify({
      metadata: Object.fromEntries(Object.entries(stored!.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(stored!.data ?? new Uint8Array()).toString('base64'),
    });
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${file}.${randomUUID()}.tmp`;
    writeFileSync(tmp, body, { mode: 0o600 });
    renameSync(tmp, file);
    return sha256;
  }

  async get(sha256: string): Promise<string> {
    let body: string;
    try {
      body = readFileSync(this.file(sha256), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ContentMissingError(sha256, this.dir);
      throw err;
    }
    const raw = JSON.parse(body) as { metadata: Record<string, string>; data: string };
    const payload: Payload = {
      metadata: Object.fromEntries(Object.entries(raw.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      data: Buffer.from(raw.data, 'base64'),
    };
    const [plain] = this.codec ? await this.codec.decode([payload]) : [payload];
    const text = Buffer.from(plain!.data ?? new Uint8Array()).toString('utf8');
    // Content addressing is also the integrity check: a changed file is not the content the request named.
    if (sha256Hex(text) !== sha256) throw new Error(`content ${sha256} in ${this.dir} does not match its hash`);
    return text;
  }

  private file(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA-256 content key: "${sha256}"`);
    return join(this.dir, sha256);
  }
}
