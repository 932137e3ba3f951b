import { z } from 'zod';
import { estimateTokens } from '../../domain/cost';
import { redactSecrets } from '../../domain/redact';
import { ProviderError, type Completion, type CompletionRequest, type ModelProvider } from '../types';
import { splitUrlCredentials } from './credentials';

export interface OpenAICompatibleOptions {
  /**
   * For example `https://api.openai.com/v1`; `/chat/completions` is appended. Credentials in it
   * (`https://user:password@host/v1`) are sent as HTTP Basic auth instead, and never appear in a message.
   */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; giving it together with credentials in the URL is refused. */
  apiKey?: string;
  /** Bounds one HTTP call; Temporal's activity timeouts bound the attempt as a whole. */
  requestTimeoutMs?: number;
  /** Sent as `max_tokens` when set; left out otherwise, since newer models reject `max_tokens`. */
  maxOutputTokens?: number;
  fetchImpl?: typeof fetch;
  /**
   * The header that carries the call's idempotency key (default `Idempotency-Key`; empty sends none). OpenAI's
   * Chat Completions API does not document one; proxies and gateways that deduplicate (or a provider that adds
   * it later) use it to answer a retried call without billing it twice.
   */
  idempotencyHeader?: string;
}

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
const DEFAULT_TIMEOUT_MS = 60_000;

/** Only the fields we read; anything else a compatible server adds is ignored. */
const ChatCompletionSchema = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string() }) })).min(1),
  // A server that reports no usage (or a broken one) still gave a usable answer; we estimate instead.
  usage: z
    .object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() })
    .optional()
    .catch(undefined),
});

/**
 * OPENAI_BASE_URL, refused at start-up unless it is an http(s) URL without credentials (fetch would refuse those on
 * every call). The error never repeats a user:password part of the value.
 */
function checkedBaseUrl(raw: string): string {
  const shown = raw.replace(/^.*@/, '***@');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`OPENAI_BASE_URL: must be an absolute http:// or https:// URL (e.g. ${DEFAULT_BASE_URL}), got "${shown}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`OPENAI_BASE_URL: must use http:// or https://, got "${shown}"`);
  return raw;
}

const ErrorBodySchema = z.object({
  error: z.union([z.string(), z.object({ message: z.string() })]),
});

/** Any server speaking OpenAI's Chat Completions wire format (OpenAI, vLLM, Ollama, LiteLLM, ...). */
export class OpenAICompatibleProvider implements ModelProvider {
  readonly name = 'openai';
  readonly bills = true;
  private readonly baseUrl: string;
  private readonly authorization: string | undefined;
  /** Never copied into an error message, whatever the provider echoes back. */
  private readonly secrets: string[];
  private readonly requestTimeoutMs: number;
  readonly maxOutputTokens: number | undefined;
  private readonly idempotencyHeader: string | undefined;
  private readonly fetchImpl: typeof fetch | undefined;

  constructor(options: OpenAICompatibleOptions) {
    const endpoint = splitUrlCredentials(options.baseUrl);
    const apiKey = options.apiKey || undefined;
    if (apiKey && endpoint.basicAuthorization) {
      // Both would be the Authorization header; sending one and silently dropping the other would be a guess.
      throw new Error(`the base URL ${endpoint.baseUrl} carries user:password@ credentials and an API key is set too: give one of them`);
    }
    this.baseUrl = endpoint.baseUrl.replace(/\/+$/, '');
    this.authorization = apiKey ? `Bearer ${apiKey}` : endpoint.basicAuthorization;
    this.secrets = [...(apiKey ? [apiKey] : []), ...endpoint.secrets];
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxOutputTokens = options.maxOutputTokens;
    this.fetchImpl = options.fetchImpl;
    const header = options.idempotencyHeader ?? 'Idempotency-Key';
    if (header !== '' && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) {
      throw new Error(`OPENAI_IDEMPOTENCY_HEADER: "${header}" is not a valid HTTP header name (letters, digits and !#$%&'*+.^_\`|~-)`);
    }
    this.idempotencyHeader = header || undefined;
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): OpenAICompatibleProvider {
    const rawTimeout = env.MODEL_ROUTER_HTTP_TIMEOUT_MS;
    let requestTimeoutMs: number | undefined;
    if (rawTimeout !== undefined && rawTimeout !== '') {
      requestTimeoutMs = Number(rawTimeout);
      if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs <= 0) {
        throw new Error(`MODEL_ROUTER_HTTP_TIMEOUT_MS must be a positive whole number of milliseconds, got "${rawTimeout}"`);
      }
    }
    return new OpenAICompatibleProvider({
      baseUrl: checkedBaseUrl(env.OPENAI_BASE_URL || DEFAULT_BASE_URL),
      apiKey: env.OPENAI_API_KEY,
      requestTimeoutMs,
      ...(env.OPENAI_IDEMPOTENCY_HEADER !== undefined && { idempotencyHeader: env.OPENAI_IDEMPOTENCY_HEADER }),
    });
  }

  async complete(req: CompletionRequest): Promise<Completion> {
    const messages = [...req.history.map(({ role, content }) => ({ role, content })), { role: 'user', content: req.prompt }];
    // The tighter of the provider's cap and the call's own.
    const maxTokens = Math.min(this.maxOutputTokens ?? Infinity, req.maxOutputTokens ?? Infinity);
    const body = {
      model: req.model.providerModel ?? req.model.id,
      messages,
      ...(Number.isFinite(maxTokens) && { max_tokens: maxTokens }),
      ...(req.outputSchema && { response_format: { type: 'json_object' } }),
    };
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.authorization) headers.authorization = this.authorization;
    if (this.idempotencyHeader && req.idempotencyKey) headers[this.idempotencyHeader.toLowerCase()] = req.idempotencyKey;

    // Our own timer (not AbortSignal.timeout) so it is cleared as soon as the call settles.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.requestTimeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
    const started = performance.now();
    let status: number;
    let responseHeaders: Headers;
    let text: string;
    try {
      const fetchImpl = this.fetchImpl ?? fetch;
      const res = await fetchImpl(`${this.baseUrl}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body), signal });
      status = res.status;
      responseHeaders = res.headers;
      text = await res.text();
    } catch (err) {
      // Cancellation must reach Temporal untouched, so it is checked before our own timeout.
      if (req.signal?.aborted) throw err;
      if (timeout.signal.aborted) {
        throw this.error('timeout', `no answer from ${this.baseUrl} within ${this.requestTimeoutMs} ms`);
      }
      throw this.error('unavailable', `request to ${this.baseUrl} failed: ${describeCause(err)}`);
    } finally {
      clearTimeout(timer);
    }
    const latencyMs = performance.now() - started;

    if (status < 200 || status >= 300) throw this.httpError(status, responseHeaders, text);

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.error('malformed-response', `HTTP ${status} body is not JSON: ${snippet(text)}`, { status });
    }
    const parsed = ChatCompletionSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
      throw this.error('malformed-response', `HTTP ${status} body is not a chat completion: ${where}: ${issue?.message ?? 'invalid'}`, {
        status,
      });
    }
    const answer = parsed.data.choices[0]!.message.content;
    const usage = parsed.data.usage;
    return {
      text: answer,
      inputTokens: usage?.prompt_tokens ?? messages.reduce((sum, m) => sum + estimateTokens(m.content), 0),
      outputTokens: usage?.completion_tokens ?? estimateTokens(answer),
      latencyMs,
      origin: 'live',
    };
  }

  private httpError(status: number, headers: Headers, text: string): ProviderError {
    const reason = `HTTP ${status}: ${providerMessage(text)}`;
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(headers);
      return this.error('rate-limited', `rate limited, ${reason}`, { status, ...(retryAfterMs !== undefined && { retryAfterMs }) });
    }
    if (status === 408) return this.error('timeout', `provider timed out, ${reason}`, { status });
    if (status >= 500) return this.error('unavailable', `provider unavailable, ${reason}`, { status });
    if (status >= 400) return this.error('invalid-request', `request rejected, ${reason}`, { status });
    // 1xx/3xx: fetch follows redirects, so landing here means a server we do not understand.
    return this.error('malformed-response', `unexpected ${reason}`, { status });
  }

  private error(kind: ProviderError['kind'], message: string, details: { status?: number; retryAfterMs?: number } = {}): ProviderError {
    // Upstream bodies echo what they were sent (a 401 naming the key, a proxy page quoting the headers).
    return new ProviderError(kind, redactSecrets(`${this.name}: ${message}`, this.secrets), { ...details, provider: this.name });
  }
}

/** OpenAI's `{error: {message}}`, or the start of whatever else came back (an HTML page from a proxy, say). */
function providerMessage(text: string): string {
  try {
    const parsed = ErrorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) return typeof parsed.data.error === 'string' ? parsed.data.error : parsed.data.error.message;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return text.trim() === '' ? '(empty body)' : snippet(text);
}

/** `retry-after-ms` (OpenAI's precise variant) wins over `Retry-After` in seconds or as an HTTP date. */
function parseRetryAfter(headers: Headers): number | undefined {
  const ms = Number(headers.get('retry-after-ms') ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** fetch reports connection errors as `TypeError: fetch failed` with the useful part in `cause`. */
function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) return `${err.message} (${'code' in cause ? `${String(cause.code)}: ` : ''}${cause.message})`;
  return err.message;
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}
