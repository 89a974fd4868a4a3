/**
 * The kernels our agent runs on each server (`GET remote/servers/{name}/kernels`),
 * as last listed: those left running across a restart of this Jupyter server
 * can be attached or stopped from the sidebar. The sessions model owns one.
 */
import { toRemoteError } from '../api';
import { IRemoteKernel, IRemoteKernelsState } from '../tokens';

export class RemoteKernelLists {
  /**
   * @param list the REST call listing a server's kernels
   * @param emit called when a listing starts or ends (the model emits `changed`)
   * @param isDisposed whether the owning model is gone
   */
  constructor(
    private readonly _list: (server: string) => Promise<IRemoteKernel[]>,
    private readonly _emit: () => void,
    private readonly _isDisposed: () => boolean
  ) {}

  /** The last listing of a server, or null if never listed. */
  of(server: string): IRemoteKernelsState | null {
    return this._lists.get(server) ?? null;
  }

  /** List a server's kernels; a failure keeps the last kernels and shows the error. */
  async load(server: string): Promise<void> {
    if (this._isDisposed()) {
      return;
    }
    const before = this._lists.get(server);
    const kernels = before?.kernels ?? [];
    this._lists.set(server, { kernels, loaded: before?.loaded ?? false, loading: true, error: null });
    this._emit();
    let next: IRemoteKernelsState;
    try {
      const listed = await this._list(server);
      next = { kernels: Array.isArray(listed) ? listed : [], loaded: true, loading: false, error: null };
    } catch (error) {
      next = { kernels, loaded: true, loading: false, error: toRemoteError(error) };
    }
    if (!this._isDisposed()) {
      this._lists.set(server, next);
      this._emit();
    }
  }

  private _lists = new Map<string, IRemoteKernelsState>();
}
