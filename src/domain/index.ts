export * from './request';
export * from './catalog';
export * from './results';
export * from './validation';
export * from './policy';
