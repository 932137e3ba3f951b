export { RequestConflictError, RouteFailedError } from './errors';
export { REQUEST_FINGERPRINT_MEMO, RouterClient, routeWorkflowId, validateRouteRequest, type RouterClientOptions } from './routerClient';
export { requestFingerprint } from '../domain/requestFingerprint';
