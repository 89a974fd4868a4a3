/**
 * Bookkeeping of user actions for the models: which ones are in flight (so a
 * button shows "Removing…" and a double click does nothing) and the last one
 * that failed, with a Retry. The catalog and sessions models each own one.
 */
import { toRemoteError } from './api';
import { IActionError } from './tokens';

export class ActionTracker {
  /**
   * @param emit called whenever busy keys or the action error change (the
   *   owning model emits its `changed` signal)
   * @param isDisposed whether the owning model is gone (nothing runs then)
   */
  constructor(
    private readonly _emit: () => void,
    private readonly _isDisposed: () => boolean
  ) {}

  /** Whether an action key (`remove-server:NAME`, `stop:ID`...) is in flight. */
  isBusy(key: string): boolean {
    return this._busy.has(key);
  }

  /** The last failed action run by `run`, or null. */
  get actionError(): IActionError | null {
    return this._actionError;
  }

  /**
   * Run an action once at a time per key. A failure becomes `actionError`
   * (labelled, with a Retry that runs it again); never rejects.
   *
   * @returns whether it succeeded (false also when already in flight)
   */
  async run(key: string, label: string, action: () => Promise<void>): Promise<boolean> {
    if (this._isDisposed() || this._busy.has(key)) {
      return false;
    }
    this._busy.add(key);
    this._actionError = null;
    this._emit();
    try {
      await action();
      return true;
    } catch (error) {
      if (!this._isDisposed()) {
        this._actionError = {
          label,
          error: toRemoteError(error),
          retry: () => void this.run(key, label, action)
        };
      }
      return false;
    } finally {
      this._busy.delete(key);
      this._emit();
    }
  }

  /**
   * Run an action once at a time per key, leaving errors to the caller, e.g.
   * a session's own error shown on its card.
   *
   * @param onStart called when the action does start (clear the last error)
   * @param onError called with what the action threw (not after dispose)
   * @returns what the action resolved with, or null (failed or already in flight)
   */
  async track<T>(
    key: string,
    action: () => Promise<T>,
    onError: (error: unknown) => void,
    onStart?: () => void
  ): Promise<T | null> {
    if (this._isDisposed() || this._busy.has(key)) {
      return null;
    }
    this._busy.add(key);
    onStart?.();
    this._emit();
    try {
      return await action();
    } catch (error) {
      if (!this._isDisposed()) {
        onError(error);
      }
      return null;
    } finally {
      this._busy.delete(key);
      this._emit();
    }
  }

  /** Forget the last action error (its box was closed). */
  clearActionError(): void {
    if (this._actionError) {
      this._actionError = null;
      this._emit();
    }
  }

  private _busy = new Set<string>();
  private _actionError: IActionError | null = null;
}
