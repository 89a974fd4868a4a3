import * as React from 'react';

import { IEnvVarRow, WizardModel, WIZARD_STEPS, STEP_LABELS } from '../../wizard';
import { ConnectStep } from './ConnectStep';
import { EnvironmentStep } from './EnvironmentStep';
import { ReviewStep } from './ReviewStep';

/** Everything the wizard shows comes from the model's state; actions are callbacks. */
export interface IWizardViewProps {
  /** A snapshot of the wizard state (the model itself is read, never called). */
  state: Pick<
    WizardModel,
    | 'server'
    | 'step'
    | 'stepIndex'
    | 'connect'
    | 'environment'
    | 'review'
    | 'groups'
    | 'blocker'
    | 'canGoBack'
    | 'canGoNext'
    | 'needsIpykernel'
    | 'chosenPython'
    | 'selectedEnvironment'
  >;
  /** `user@host:port` of the server. */
  address: string;
  now: number;
  onBack: () => void;
  onNext: () => void;
  onClose: () => void;
  onTest: () => void;
  onTrust: () => void;
  onCancelTrust: () => void;
  onOpenSecurity?: () => void;
  onRefreshEnvironments: () => void;
  onSelect: (key: string) => void;
  onCustomPath: (path: string) => void;
  onUseCustom: (useCustom: boolean) => void;
  onInstall: (python: string) => void;
  onName: (name: string) => void;
  onCwd: (cwd: string) => void;
  onIdleTimeout: (seconds: number) => void;
  onAddEnvVar: () => void;
  onEnvVar: (index: number, row: Partial<IEnvVarRow>) => void;
  onRemoveEnvVar: (index: number) => void;
  onStart: () => void;
  onInstallAndStart: () => void;
  onOpenNotebook: (kernelName: string) => void;
}

/** The Connect -> Environment -> Review wizard of one server. */
export function WizardView(props: IWizardViewProps): JSX.Element {
  const { state, address, now } = props;
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

  const selected = state.selectedEnvironment;
  const environmentText =
    selected && selected.kind === 'kernelspec'
      ? `kernelspec ${selected.name}`
      : state.chosenPython || '(none chosen)';
  const saved = state.review.status === 'saved';
  const saving = state.review.status === 'saving';
  const blockerId = `jp-remote-wizard-blocker-${state.server}`;

  let body: JSX.Element;
  switch (step) {
    case 'connect':
      body = (
        <ConnectStep
          connect={state.connect}
          address={address}
          now={now}
          onTest={props.onTest}
          onTrust={props.onTrust}
          onCancelTrust={props.onCancelTrust}
          onOpenSecurity={props.onOpenSecurity}
        />
      );
      break;
    case 'environment':
      body = (
        <EnvironmentStep
          server={state.server}
          environment={state.environment}
          groups={state.groups}
          onRefresh={props.onRefreshEnvironments}
          onSelect={props.onSelect}
          onCustomPath={props.onCustomPath}
          onUseCustom={props.onUseCustom}
          onInstall={props.onInstall}
        />
      );
      break;
    case 'review':
      body = (
        <ReviewStep
          server={state.server}
          environment={environmentText}
          review={state.review}
          needsIpykernel={state.needsIpykernel}
          onName={props.onName}
          onCwd={props.onCwd}
          onIdleTimeout={props.onIdleTimeout}
          onAddEnvVar={props.onAddEnvVar}
          onEnvVar={props.onEnvVar}
          onRemoveEnvVar={props.onRemoveEnvVar}
          onStart={props.onStart}
          onInstallAndStart={props.onInstallAndStart}
          onOpenNotebook={props.onOpenNotebook}
          onClose={props.onClose}
        />
      );
      break;
  }

  return (
    <div className="jp-remote-Wizard">
      <header className="jp-remote-Wizard-header">
        <h1 className="jp-remote-Wizard-title">Connect to {state.server}</h1>
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
      <section className="jp-remote-Wizard-body" aria-labelledby={`jp-remote-wizard-step-${state.server}`}>
        <h2
          className="jp-remote-Wizard-stepTitle"
          id={`jp-remote-wizard-step-${state.server}`}
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
            onClick={props.onBack}
            disabled={!state.canGoBack || saved}
          >
            Back
          </button>
          {step !== 'review' ? (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-accept"
              onClick={props.onNext}
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
                onClick={props.onStart}
                disabled={saving}
              >
                {saving ? 'Starting…' : 'Start'}
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
