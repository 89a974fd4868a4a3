/**
 * What SessionsModel (model.ts) is made with: the REST calls it makes and their
 * defaults (api/), its options (the events websocket, JupyterLab's kernels, the
 * clock), and the messages of the events websocket. Types for tests and for
 * other extensions that make a SessionsModel; model.ts re-exports them.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal } from '@lumino/signaling';

import * as api from '../api';
import { IForwardInput, IKernelActivity, IRemoteKernel, ISession, RemoteEvent } from '../tokens';
import { KernelActivity } from './activity';
import { IWebSocketLike } from './link';

/** The greeting of the events websocket: every session the server has now. */
export interface IHelloMessage {
  type: 'hello';
  sessions: ISession[];
}

/** What the events websocket sends: the greeting, then events. */
export type EventsMessage = IHelloMessage | RemoteEvent;

/** The part of JupyterLab's kernel manager the model reads (activity). */
export interface IRunningKernels {
  running(): IterableIterator<{ id: string } & IKernelActivity>;
  readonly runningChanged: ISignal<unknown, unknown>;
}

/** The REST calls the model makes (defaults: api/). */
export interface ISessionsAPI {
  listSessions: () => Promise<ISession[]>;
  stopSession: (id: string) => Promise<void>;
  retrySession: (id: string) => Promise<ISession>;
  listRemoteKernels: (server: string) => Promise<IRemoteKernel[]>;
  stopRemoteKernel: (server: string, kernelId: string) => Promise<void>;
  attachRemoteKernel: (server: string, kernelId: string) => Promise<{ id: string }>;
  openForward: (input: IForwardInput) => Promise<ISession>;
}

export interface ISessionsOptions {
  /** Replace some REST calls (tests). */
  api?: Partial<ISessionsAPI>;
  /** Opens the events websocket; null disables it (polling only). Default: browser WebSocket. */
  createSocket?: ((url: string) => IWebSocketLike) | null;
  /** URL of the events websocket; default api.eventsURL(). */
  eventsURL?: () => string;
  /** Interval of the sessions polling while the websocket is down. */
  sessionsInterval?: number;
  /** JupyterLab's kernels, for the cards' activity. */
  kernels?: IRunningKernels | null;
  /** Live activity of the kernels this page's notebooks and consoles use (preferred). */
  activity?: KernelActivity | null;
  /** Clock in epoch milliseconds (tests). */
  now?: () => number;
}

export const DEFAULT_SESSIONS_API: ISessionsAPI = {
  listSessions: api.listSessions,
  stopSession: api.stopSession,
  retrySession: api.retrySession,
  listRemoteKernels: api.listRemoteKernels,
  stopRemoteKernel: api.stopRemoteKernel,
  attachRemoteKernel: api.attachRemoteKernel,
  openForward: api.openForward
};

export function defaultSocket(url: string): IWebSocketLike {
  const { WebSocket: Socket } = ServerConnection.makeSettings();
  return new Socket(url) as unknown as IWebSocketLike;
}
