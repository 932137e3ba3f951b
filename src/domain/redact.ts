/**
 * Redaction of credentials from text that is about to be copied somewhere durable: an error message that goes
 * into Temporal's history, the decision log or a log line. Providers echo what they were sent (a 401 naming the
 * key, a proxy's error page quoting the request headers), and history is kept for as long as the namespace
 * retains it, so every copy of an upstream error passes through here first.
 */

export const REDACTED = '[redacted]';

/** Shorter known secrets are not searched for: they would match ordinary words of a message. */
const MIN_KNOWN_SECRET_LENGTH = 4;

const PATTERNS: readonly [RegExp, string][] = [
  // `Authorization: Bearer x`, `authorization=x`, `"authorization":"x"`: the value, scheme and token, whatever the scheme.
  [/(authorization["']?\s*[:=]\s*["']?)(?:[A-Za-z]+\s+)?[^\s"',;&}]+/gi, `$1${REDACTED}`],
  // The token of an auth scheme quoted on its own.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  // OpenAI-style keys (sk-..., sk-proj-..., sk-ant-...), wherever they appear.
  [/\bsk-[A-Za-z0-9_-]{8,}/g, REDACTED],
  // user:password@ in a URL.
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, `$1${REDACTED}@`],
];

/** Replaces every known secret value, then every credential-shaped pattern, with `[redacted]`. */
export function redactSecrets(text: string, knownSecrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  const secrets = knownSecrets.filter((s) => s.length >= MIN_KNOWN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  for (const secret of secrets) out = out.split(secret).join(REDACTED);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
