import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { EncryptionCodec } from './encryptionCodec';
import { codecKeysFromEnv } from './keys';

export { EncryptionCodec, ENCRYPTED_ENCODING, METADATA_KEY_ID } from './encryptionCodec';
export { codecKeysFromEnv, type CodecKeys } from './keys';

/**
 * What every router Client and Worker uses: the encryption codec when keys are configured, else the SDK's defaults
 * (plain payloads). Client and worker must agree, so they all read it from here. The codec runs outside the
 * workflow sandbox (payload codecs are never bundled), so node:crypto stays out of the workflow bundle.
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter {
  const codec = payloadCodecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : {};
}

/** The encryption codec when keys are configured; also what keeps claim-checked prompts encrypted at rest. */
export function payloadCodecFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadCodec | undefined {
  const keys = codecKeysFromEnv(env);
  return keys ? new EncryptionCodec(keys) : undefined;
}
