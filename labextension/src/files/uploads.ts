/**
 * Upload progress with a Cancel button, for uploads into a remote drive.
 *
 * JupyterLab's file browser (drag and drop, the Upload button) sends a file in
 * chunks and reports each step on its model's `uploadChanged`; this shows each
 * upload as one notification whose progress bar follows it, with a Cancel
 * action that asks the drive to stop it (the server then removes its
 * temporary file). Called by files/panel.ts for each browser it creates.
 */
import type { Notification } from '@jupyterlab/apputils';
import type { FileBrowserModel, IUploadModel } from '@jupyterlab/filebrowser';

import { basename } from './paths';

/** What the tracker needs of the drive and of JupyterLab's notifications. */
export interface IUploadTarget {
  name: string;
  cancelUpload(localPath: string): Promise<void>;
}

/** One step of an upload as the browser model reports it. */
interface IUploadChange {
  name: string;
  newValue: IUploadModel | null;
  oldValue: IUploadModel | null;
}

export type Notify = Pick<typeof Notification, 'emit' | 'update'>;

/** The drive-local path of a browser path (`gpu:home/a/f` -> `home/a/f`). */
export function localOf(path: string, drive: string): string {
  return path.startsWith(`${drive}:`) ? path.slice(drive.length + 1) : path;
}

/** Follows one browser's uploads as notifications; returns the disconnect. */
export function trackUploads(
  model: Pick<FileBrowserModel, 'uploadChanged'>,
  drive: IUploadTarget,
  notify: Notify
): () => void {
  const shown = new Map<string, string>();
  const cancelled = new Set<string>();

  const message = (path: string, verb: string): string =>
    `${verb} ${basename(path)} on ${drive.name}`;

  const onChange = (_: unknown, change: IUploadChange): void => {
    const upload = change.newValue ?? change.oldValue;
    if (!upload) {
      return;
    }
    const path = upload.path;
    const id = shown.get(path);
    const cancel: Notification.IAction = {
      label: 'Cancel',
      caption: 'Stop this upload; nothing is left on the remote',
      callback: () => {
        cancelled.add(path);
        void drive.cancelUpload(localOf(path, drive.name));
      }
    };
    if (change.name === 'start' || id === undefined) {
      shown.set(
        path,
        notify.emit(message(path, 'Uploading'), 'in-progress', {
          autoClose: false,
          progress: upload.progress,
          actions: [cancel]
        })
      );
      return;
    }
    if (change.name === 'update') {
      notify.update({
        id,
        message: message(path, 'Uploading'),
        type: 'in-progress',
        progress: change.newValue?.progress ?? 0,
        actions: [cancel]
      });
      return;
    }
    const wasCancelled = cancelled.delete(path);
    shown.delete(path);
    notify.update({
      id,
      message:
        change.name === 'finish'
          ? message(path, 'Uploaded')
          : wasCancelled
            ? `${message(path, 'Cancelled the upload of')}; nothing was left there`
            : message(path, 'Could not upload'),
      type: change.name === 'finish' ? 'success' : wasCancelled ? 'info' : 'error',
      autoClose: 5000,
      actions: []
    });
  };

  model.uploadChanged.connect(onChange);
  return () => model.uploadChanged.disconnect(onChange);
}
