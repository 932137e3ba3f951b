import { contentChars, INLINE_CONTENT_LIMIT, type HistoryTurn, type RouteRequest } from '../domain/request';
import { ValidationError } from '../domain/validation';
import type { ContentStore } from './contentStore';

interface Content {
  prompt: string;
  history: HistoryTurn[];
}

/**
 * A request whose prompt and history exceed the inline limit leaves them in the content store and carries their
 * reference instead, so every activity input (and the history) stays small. Smaller requests are returned as they are.
 */
export async function checkIn(request: RouteRequest, store: ContentStore | undefined): Promise<RouteRequest> {
  const chars = contentChars(request);
  if (chars <= INLINE_CONTENT_LIMIT) return request;
  if (!store) {
    throw new ValidationError('RouteRequest', [
      { path: 'prompt', message: `prompt and history together are ${chars} characters; above ${INLINE_CONTENT_LIMIT} they need a content store (RouterClient contentStore, MODEL_ROUTER_CONTENT_DIR)` },
    ]);
  }
  const content: Content = { prompt: request.prompt, history: request.history };
  const sha256 = await store.put(JSON.stringify(content));
  return { ...request, prompt: '', history: [], contentRef: { sha256, chars } };
}

/** The request with its prompt and history back in place (what models, features and the judge need). */
export async function checkOut(request: RouteRequest, store: ContentStore | undefined): Promise<RouteRequest> {
  if (!request.contentRef) return request;
  if (!store) throw new Error(`request ${request.requestId} is claim-checked (content ${request.contentRef.sha256}) but this worker has no content store`);
  const content = JSON.parse(await store.get(request.contentRef.sha256)) as Content;
  const { contentRef: _ref, ...rest } = request;
  return { ...rest, prompt: content.prompt, history: content.history };
}
