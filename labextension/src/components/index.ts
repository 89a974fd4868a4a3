export * from './EmptyState';
export * from './ErrorBox';
export * from './Loading';
export * from './RemoteView';
export * from './ServerList';
