export { routeRequest } from './routeRequest';
