import type { LocalGateway } from '../gateway/local';

/** How `dev` and the demo announce their gateway: where to point an OpenAI SDK, and with which key. */
export function printGateway(gateway: LocalGateway): void {
  console.log(`Gateway:             ${gateway.baseUrl} (OpenAI-compatible: model "router", "router/<policy>" or a catalog model)`);
  console.log(`Dev tenant API key:  ${gateway.key} (tenant "${gateway.tenant}"; valid while this process runs)`);
}
