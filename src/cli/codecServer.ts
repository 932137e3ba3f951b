import { parseArgs } from 'node:util';
import { codecKeysFromEnv, EncryptionCodec } from '../codec';
import { startCodecServer } from '../codec/codecServer';
import { ValidationError } from '../domain/validation';
import { untilInterrupted } from './signals';

/** `model-router codec-server [--port 8888] [--ui-origin URL ...]`: decrypts payloads for an operator's Web UI. */
export async function codecServerCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, 'ui-origin': { type: 'string', multiple: true } } });
  const port = values.port === undefined ? 8888 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ValidationError('command line', [{ path: '--port', message: `must be a port number, got "${values.port}"` }]);
  }
  const uiOrigins = values['ui-origin'] ?? ['http://localhost:8233'];
  for (const origin of uiOrigins) {
    if (!URL.canParse(origin)) throw new ValidationError('command line', [{ path: '--ui-origin', message: `must be a URL such as http://localhost:8233, got "${origin}"` }]);
  }
  const keys = codecKeysFromEnv(process.env);
  if (!keys) {
    throw new ValidationError('environment', [{ path: 'MODEL_ROUTER_CODEC_KEYS or MODEL_ROUTER_CODEC_KEY_FILE', message: "one must be set (the codec server decrypts with the workers' keys)" }]);
  }
  const server = await startCodecServer({ codec: new EncryptionCodec(keys), port, uiOrigins });
  console.log(`Codec server: ${server.url} (keys ${[...keys.keys.keys()].join(', ')}; encrypting with ${keys.currentKeyId})`);
  console.log(`For the Web UI of ${uiOrigins.join(', ')}: temporal server start-dev --ui-codec-endpoint ${server.url}, or model-router dev --codec-endpoint ${server.url}. Ctrl-C to stop.`);
  try {
    await untilInterrupted();
  } finally {
    await server.close();
  }
}
