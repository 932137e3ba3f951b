export { RouterClient, routeWorkflowId, validateRouteRequest, type RouterClientOptions } from './routerClient';
