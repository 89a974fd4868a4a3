/**
 * Small hooks that keep the components in step with the models.
 */
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

/**
 * Render again whenever one of these signals (the models' `changed`) fires.
 * Rendering to static markup runs no effect: the component renders once.
 */
export function useChanged(...signals: ReadonlyArray<ISignal<unknown, unknown>>): void {
  const [, bump] = React.useReducer((count: number) => count + 1, 0);
  React.useEffect(() => {
    const slot = (): void => bump();
    for (const signal of signals) {
      signal.connect(slot);
    }
    // a change between the first render and this effect would be missed
    bump();
    return () => {
      for (const signal of signals) {
        signal.disconnect(slot);
      }
    };
  }, signals);
}

/**
 * The time in epoch ms (`fixed` in tests), rendering again every second
 * while `running` (an elapsed time is shown).
 */
export function useClock(running: boolean, fixed?: number): number {
  const [, tick] = React.useReducer((count: number) => count + 1, 0);
  React.useEffect(() => {
    if (!running || fixed !== undefined) {
      return;
    }
    const timer = setInterval(tick, 1000);
    return () => clearInterval(timer);
  }, [running, fixed]);
  return fixed ?? Date.now();
}
