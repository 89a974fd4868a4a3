/**
 * Keep JupyterLab's kernelspecs in step with the profiles: each profile is a
 * kernelspec `remote-<name>`, so after the catalog added or removed one the
 * launcher and the kernel picker are refreshed at once.
 */
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { ICatalogModel } from '../tokens';

/** The part of JupyterLab's kernelspec manager used here. */
export interface IKernelspecsLike {
  refreshSpecs(): Promise<void>;
}

/** Refresh `kernelspecs` whenever `catalog.profilesChanged` fires, until disposed. */
export function refreshKernelspecsOnChange(catalog: ICatalogModel, kernelspecs: IKernelspecsLike): IDisposable {
  const refresh = (): void => {
    kernelspecs.refreshSpecs().catch(error => {
      console.warn('jupyterlab-remote: could not refresh kernelspecs', error);
    });
  };
  catalog.profilesChanged.connect(refresh);
  return new DisposableDelegate(() => catalog.profilesChanged.disconnect(refresh));
}
