/** Offline evaluation of routing strategies over recorded outcomes (no Temporal). */
export * from './dataset';
export * from './simulate';
export * from './metrics';
export * from './baselines';
export * from './evaluate';
export * from './strategies';
