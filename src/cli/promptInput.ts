import { createReadStream } from 'node:fs';
import { ValidationError } from '../domain/validation';

/** A request's prompt is at most 400,000 characters, at most 4 UTF-8 bytes each: more cannot be a valid prompt. */
const MAX_PROMPT_BYTES = 4 * 400_000;

const refuse = (message: string) => new ValidationError('command line', [{ path: '--prompt-file', message }]);

/** Reads at most MAX_PROMPT_BYTES, so `--prompt-file /dev/zero` fails instead of filling memory. */
async function readCapped(stream: NodeJS.ReadableStream & { destroy(): void }, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > MAX_PROMPT_BYTES) {
        stream.destroy();
        throw refuse(`${what} is longer than ${MAX_PROMPT_BYTES} bytes, more than a prompt may be`);
      }
      chunks.push(buffer);
    }
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw refuse(`cannot read ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The prompt of `route`: --prompt TEXT, or --prompt-file FILE, or --prompt-file - (standard input); one of them. */
export async function promptOption(values: { prompt?: string | undefined; 'prompt-file'?: string | undefined }): Promise<string | undefined> {
  const file = values['prompt-file'];
  if (file === undefined) return values.prompt;
  if (values.prompt !== undefined) throw refuse('cannot be combined with --prompt: give the prompt one way');
  return file === '-' ? readCapped(process.stdin, 'standard input') : readCapped(createReadStream(file), `"${file}"`);
}
