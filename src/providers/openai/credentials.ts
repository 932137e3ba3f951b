/** What a base URL of the form `https://user:password@host/v1` means for the calls made to it. */
export interface EndpointCredentials {
  /** The URL without its user:password@, safe to put in a message (and the only form fetch accepts). */
  baseUrl: string;
  /** `Basic base64(user:password)` (RFC 7617): what curl and browsers send for credentials in a URL. */
  basicAuthorization?: string;
  /** The values that must never be copied into a message: the password, the pair, the encoded pair. */
  secrets: string[];
}

/**
 * Takes the credentials out of a base URL once, at construction. fetch refuses a URL that carries credentials,
 * and its error, like every message that names the URL, would otherwise copy the password into history.
 * A URL that does not parse is returned as it is: validating it is the caller's job, and redaction still
 * removes a user:password@ from any message that quotes it.
 */
export function splitUrlCredentials(rawUrl: string): EndpointCredentials {
  if (!URL.canParse(rawUrl)) return { baseUrl: rawUrl, secrets: [] };
  const url = new URL(rawUrl);
  if (!url.username && !url.password) return { baseUrl: rawUrl, secrets: [] };
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  const encoded = Buffer.from(pair, 'utf8').toString('base64');
  const secrets = [pair, encoded, url.password, decodeURIComponent(url.password)];
  url.username = '';
  url.password = '';
  return { baseUrl: url.toString(), basicAuthorization: `Basic ${encoded}`, secrets };
}
