import * as React from 'react';

import { WizardModel } from '../../wizard/model';
import { STEP_LABELS, WIZARD_STEPS } from '../../wizard/state';
import { useChanged, useClock } from '../hooks';
import { ConnectStep } from './ConnectStep';
import { EnvironmentStep } from './EnvironmentStep';
import { ReviewStep } from './ReviewStep';

export interface IWizardViewProps {
  /** The wizard's model: its state is shown, its methods are the actions. */
  model: WizardModel;
  /** `user@host:port` of the server. */
  address: string;
  /** Close the wizard's tab. */
  onClose: () => void;
  /** Open a new notebook on the saved profile's kernel. */
  onOpenNotebook: (kernelName: string) => void;
  /** Reveal the Security drawer (to remove an old key). */
  onOpenSecurity?: () => void;
  /** A fixed clock in epoch ms (tests); else the time, ticking while connecting. */
  now?: number;
}

/** The Connect -> Environment -> Review wizard of one server; renders again when its model changes. */
export function WizardView(props: IWizardViewProps): JSX.Element {
  const { model: state, address } = props;
  useChanged(state.changed);
  const now = useClock(state.connect.status === 'testing', props.now);
  const step = state.step;
  const headingRef = React.useRef<HTMLHeadingElement>(null);
  const first = React.useRef(true);
  React.useEffect(() => {
    // move focus to the new step's heading (not on first render: the tab gets it)
    if (first.current) {
      first.current = false;
      return;
    }
    headingRef.current?.focus();
  }, [step]);

  const saved = state.review.status === 'saved';
  const saving = state.review.status === 'saving';
  const idBase = state.editing ? `edit-${state.editing.name}` : state.server;
  const blockerId = `jp-remote-wizard-blocker-${idBase}`;

  let body: JSX.Element;
  switch (step) {
    case 'connect':
      body = (
        <ConnectStep model={state} address={address} now={now} onOpenSecurity={props.onOpenSecurity} />
      );
      break;
    case 'environment':
      body = <EnvironmentStep model={state} />;
      break;
    case 'review':
      body = <ReviewStep model={state} onOpenNotebook={props.onOpenNotebook} />;
      break;
  }

  return (
    <div className="jp-remote-Wizard">
      <header className="jp-remote-Wizard-header">
        <h1 className="jp-remote-Wizard-title">
          {state.editing ? `Edit profile ${state.editing.name} on ${state.server}` : `Connect to ${state.server}`}
        </h1>
        <p className="jp-remote-Wizard-address">
          <code>{address}</code>
        </p>
        <ol className="jp-remote-Stepper" aria-label="Steps">
          {WIZARD_STEPS.map((s, index) => {
            const status =
              index < state.stepIndex ? 'done' : index === state.stepIndex ? 'current' : 'todo';
            return (
              <li
                key={s}
                className={`jp-remote-Stepper-step jp-mod-${status}`}
                aria-current={status === 'current' ? 'step' : undefined}
              >
                <span className="jp-remote-Stepper-number" aria-hidden="true">
                  {status === 'done' ? '✓' : index + 1}
                </span>
                <span className="jp-remote-Stepper-label">{STEP_LABELS[s]}</span>
                {status === 'done' && <span className="jp-remote-VisuallyHidden"> (done)</span>}
              </li>
            );
          })}
        </ol>
      </header>
      <section className="jp-remote-Wizard-body" aria-labelledby={`jp-remote-wizard-step-${idBase}`}>
        <h2
          className="jp-remote-Wizard-stepTitle"
          id={`jp-remote-wizard-step-${idBase}`}
          ref={headingRef}
          tabIndex={-1}
        >
          Step {state.stepIndex + 1} of {WIZARD_STEPS.length}: {STEP_LABELS[step]}
        </h2>
        {body}
      </section>
      <footer className="jp-remote-Wizard-footer">
        {state.blocker && !saved && (
          <p className="jp-remote-Note jp-remote-Wizard-blocker" id={blockerId}>
            {state.blocker}
          </p>
        )}
        <div className="jp-remote-Actions">
          <button
            type="button"
            className="jp-Button jp-mod-styled"
            onClick={() => state.back()}
            disabled={!state.canGoBack || saved}
          >
            Back
          </button>
          {step !== 'review' ? (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-accept"
              onClick={() => state.next()}
              disabled={!state.canGoNext}
              aria-describedby={state.blocker ? blockerId : undefined}
            >
              Next
            </button>
          ) : (
            !saved && (
              <button
                type="button"
                className="jp-Button jp-mod-styled jp-mod-accept"
                onClick={() => void state.save()}
                disabled={saving}
              >
                {state.editing ? (saving ? 'Saving…' : 'Save') : saving ? 'Starting…' : 'Start'}
              </button>
            )
          )}
          <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" onClick={props.onClose}>
            {saved ? 'Close' : 'Cancel'}
          </button>
        </div>
      </footer>
    </div>
  );
}
