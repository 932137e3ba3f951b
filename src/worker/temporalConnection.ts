import { existsSync, readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { ValidationError } from '../domain/validation';

/*
 * How a worker, a gateway or a client reaches a Temporal cluster beyond its address: TLS (a private CA, mTLS client
 * certificates) and Temporal Cloud's API key. The variable names are the ones Temporal's own environment
 * configuration uses, so one set of settings serves the Temporal CLI and this router alike.
 */

export interface TemporalSecurity {
  /** Absent: plain TCP, unless an API key turns TLS on (as the SDK does for Temporal Cloud). */
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

const SUBJECT = 'Temporal connection settings';
type Issue = { path: string; message: string };

function readFile(env: NodeJS.ProcessEnv, name: string, issues: Issue[]): Buffer | undefined {
  const path = env[name];
  if (!path) return undefined;
  if (!existsSync(path)) {
    issues.push({ path: name, message: `file "${path}" does not exist` });
    return undefined;
  }
  return readFileSync(path);
}

function flag(env: NodeJS.ProcessEnv, name: string, issues: Issue[]): boolean | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  if (/^(true|1)$/i.test(value)) return true;
  if (/^(false|0)$/i.test(value)) return false;
  issues.push({ path: name, message: `must be true or false, got "${value}"` });
  return undefined;
}

/**
 * TEMPORAL_TLS (true/false), TEMPORAL_TLS_CLIENT_CERT_PATH with TEMPORAL_TLS_CLIENT_KEY_PATH (mTLS: both or
 * neither), TEMPORAL_TLS_SERVER_CA_CERT_PATH (a private CA), TEMPORAL_TLS_SERVER_NAME (the name the server's
 * certificate is checked against) and TEMPORAL_API_KEY. Any TLS file or name turns TLS on. A mistake is an error
 * naming the variable, before anything connects.
 */
export function temporalSecurityFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalSecurity {
  const issues: Issue[] = [];
  const enabled = flag(env, 'TEMPORAL_TLS', issues);
  const crt = readFile(env, 'TEMPORAL_TLS_CLIENT_CERT_PATH', issues);
  const key = readFile(env, 'TEMPORAL_TLS_CLIENT_KEY_PATH', issues);
  const ca = readFile(env, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', issues);
  const serverName = env.TEMPORAL_TLS_SERVER_NAME || undefined;
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  if (Boolean(env.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(env.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    const missing = env.TEMPORAL_TLS_CLIENT_CERT_PATH ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH';
    issues.push({ path: missing, message: 'is required with the other half of the client certificate pair (mTLS needs both)' });
  }
  const tlsFiles = Boolean(env.TEMPORAL_TLS_CLIENT_CERT_PATH || env.TEMPORAL_TLS_CLIENT_KEY_PATH || env.TEMPORAL_TLS_SERVER_CA_CERT_PATH || serverName);
  if (enabled === false && tlsFiles) issues.push({ path: 'TEMPORAL_TLS', message: 'is false, but TLS files or a server name are set: remove one or the other' });
  if (issues.length > 0) throw new ValidationError(SUBJECT, issues);

  const security: TemporalSecurity = apiKey ? { apiKey } : {};
  if (enabled === false) return { ...security, tls: false };
  if (!tlsFiles) return enabled ? { ...security, tls: true } : security;
  return {
    ...security,
    tls: {
      ...(crt && key && { clientCertPair: { crt, key } }),
      ...(ca && { serverRootCACertificate: ca }),
      ...(serverName && { serverNameOverride: serverName }),
    },
  };
}
