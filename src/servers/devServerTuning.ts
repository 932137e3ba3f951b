/**
 * Dynamic-config values for the embedded dev server. Its defaults are made for a shared cluster; on a single local
 * server one of them spaces every workflow task out and dominates a routed request's latency.
 */
export const TUNED_DEV_SERVER_ARGS: readonly string[] = [
  // The history service polls its transfer queue (which dispatches new workflow and activity tasks) at most 20
  // times a second by default, so consecutive steps of one workflow wait ~50 ms each; 1000 removes that spacing.
  '--dynamic-config-value',
  'history.transferProcessorMaxPollRPS=1000',
];
