import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseJsonOrThrow, parseOrThrow, ValidationError } from '../domain/validation';

/** The keys a codec may decrypt with, and the one it encrypts with. */
export interface CodecKeys {
  currentKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

const KEY_BYTES = 32; // AES-256
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// Key ids travel in payload metadata and in config syntax ("id:key,id:key"), so they stay plain.
const KEY_ID = /^[A-Za-z0-9._-]+$/;

const KeyFileSchema = z
  .object({
    current: z.string().regex(KEY_ID, 'must be letters, digits, ".", "_" or "-"'),
    keys: z.record(z.string().regex(KEY_ID, 'must be letters, digits, ".", "_" or "-"'), z.string()),
  })
  .strict();

/** 32 raw bytes from base64 text, or the rule it breaks (Buffer.from alone would silently skip bad characters). */
function keyBytes(base64: string): Buffer | string {
  if (!BASE64.test(base64)) return 'must be base64 text';
  const bytes = Buffer.from(base64, 'base64');
  return bytes.length === KEY_BYTES ? bytes : `must decode to ${KEY_BYTES} bytes (AES-256), got ${bytes.length}`;
}

function build(subject: string, currentKeyId: string, entries: [string, string][]): CodecKeys {
  const issues: { path: string; message: string }[] = [];
  const keys = new Map<string, Buffer>();
  for (const [id, base64] of entries) {
    const bytes = keyBytes(base64);
    if (typeof bytes === 'string') issues.push({ path: id, message: bytes });
    else keys.set(id, bytes);
  }
  if (!entries.some(([id]) => id === currentKeyId)) issues.push({ path: currentKeyId, message: 'is the current key id but has no key' });
  if (issues.length > 0) throw new ValidationError(subject, issues);
  return { currentKeyId, keys };
}

/** `id1:base64,id2:base64`; the first entry is the current key, the others only decrypt older payloads. */
function fromList(text: string): CodecKeys {
  const subject = 'MODEL_ROUTER_CODEC_KEYS';
  const entries: [string, string][] = [];
  for (const [i, raw] of text.split(',').entries()) {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) throw new ValidationError(subject, [{ path: `entry ${i + 1}`, message: 'must be KEYID:BASE64KEY with a key id of letters, digits, ".", "_" or "-"' }]);
    if (entries.some(([seen]) => seen === id)) throw new ValidationError(subject, [{ path: id, message: 'appears twice' }]);
    entries.push([id, entry.slice(colon + 1)]);
  }
  return build(subject, entries[0]![0], entries);
}

function fromFile(path: string): CodecKeys {
  const subject = `MODEL_ROUTER_CODEC_KEY_FILE ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError(subject, [{ path: '(file)', message: `cannot be read (${(err as Error).message})` }]);
  }
  const file = parseOrThrow(KeyFileSchema, parseJsonOrThrow(text, subject), subject);
  return build(subject, file.current, Object.entries(file.keys));
}

/**
 * The payload keys from MODEL_ROUTER_CODEC_KEYS or MODEL_ROUTER_CODEC_KEY_FILE, or undefined when neither is set
 * (payloads stay plain). Keys come from the environment or a file only, never from anything that enters history.
 */
export function codecKeysFromEnv(env: NodeJS.ProcessEnv): CodecKeys | undefined {
  const list = env.MODEL_ROUTER_CODEC_KEYS?.trim();
  const file = env.MODEL_ROUTER_CODEC_KEY_FILE?.trim();
  if (list && file) {
    throw new ValidationError('codec keys', [{ path: 'MODEL_ROUTER_CODEC_KEYS', message: 'must not be set together with MODEL_ROUTER_CODEC_KEY_FILE (which one is current would be a guess)' }]);
  }
  if (list) return fromList(list);
  if (file) return fromFile(file);
  return undefined;
}
