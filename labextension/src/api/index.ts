/**
 * One function per REST call of the server extension, grouped by resource.
 */
export * from './errors';
export * from './requests';
export * from './servers';
export * from './hostkeys';
export * from './environments';
export * from './profiles';
export * from './sessions';
export * from './forwards';
export * from './terminals';
export * from './slurm';
