import { ValidationError } from '../domain/validation';

/** A port the router's metrics and the SDK's can both take: the SDK's go on the next one. */
export function checkMetricsPort(port: number, setting: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65534) {
    throw new ValidationError('command line', [{ path: setting, message: `must be a port from 1 to 65534 (the Temporal SDK's runtime metrics go on the next port), got ${port}` }]);
  }
}
