/**
 * Dynamic-config values for the embedded dev server. Its defaults are made for a shared cluster; on a single local
 * server two of them space workflow tasks and timers out and dominate a routed request's latency.
 */
export const TUNED_DEV_SERVER_ARGS: readonly string[] = [
  // The history service polls its transfer queue (which dispatches new workflow and activity tasks) at most 20
  // times a second by default, so consecutive steps of one workflow wait ~50 ms each; 1000 removes that spacing.
  '--dynamic-config-value',
  'history.transferProcessorMaxPollRPS=1000',
  // The timer queue looks up to 1 s ahead and fires what it found late by up to that much, so a 1 ms timer (the
  // one that lets an early answer leave before its row is written) took ~970 ms; at 1 ms it fires in ~4 ms.
  '--dynamic-config-value',
  'history.timerProcessorMaxTimeShift="1ms"',
  // Its timer queue is also polled at most 20 times a second, which capped early-return runs (one timer each)
  // at ~14 a second however many ran at once.
  '--dynamic-config-value',
  'history.timerProcessorMaxPollRPS=1000',
];
