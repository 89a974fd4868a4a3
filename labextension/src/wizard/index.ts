/**
 * The connect wizard's state and logic (no widgets: panel.tsx and tabs.ts are
 * imported by the plugin directly).
 */
export * from './connect';
export * from './environments';
export * from './model';
export * from './review';
export * from './state';
