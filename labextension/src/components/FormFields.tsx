import * as React from 'react';

import { IRemoteError } from '../tokens';

/**
 * What both server forms share (ServerForm's SSH host form and
 * JupyterServerForm): the field errors (typed here, or the server's 400 at its
 * field), a labelled text input with its help and error, and the Save/Cancel row.
 * Pure components: the forms own the values.
 */

/** A form's field errors: those of its own checks, else the server's at its field. */
export interface IFormErrors<F extends string> {
  /** The messages of the form's own checks (cleared field by field as the user types). */
  local: Partial<Record<F, string>>;
  setLocal: React.Dispatch<React.SetStateAction<Partial<Record<F, string>>>>;
  /** The field the server's error is about, if it is one of the form's. */
  serverField: F | undefined;
  /** The message shown at a field. */
  messageOf: (field: F) => string | undefined;
  /** The server's hint, shown after its message (never after the form's own). */
  hintOf: (field: F) => string | undefined;
  /** The user changed a field: its own message goes. */
  clear: (field: F) => void;
}

/** Called by both server forms with the last save's error and how they map its `field`. */
export function useFormErrors<F extends string>(
  error: IRemoteError | null,
  fieldOf: (field: string | undefined) => F | undefined
): IFormErrors<F> {
  const [local, setLocal] = React.useState<Partial<Record<F, string>>>({});
  const serverField = fieldOf(error?.field);
  return {
    local,
    setLocal,
    serverField,
    messageOf: field => local[field] ?? (serverField === field ? error?.message : undefined),
    hintOf: field => (!local[field] && error?.hint ? error.hint : undefined),
    clear: field => {
      if (local[field]) {
        setLocal(l => ({ ...l, [field]: undefined }));
      }
    }
  };
}

/** Focus the first field with an error (ids are `${idPrefix}-${field}`); false if none. */
export function focusFirstError(idPrefix: string, errors: Record<string, string | undefined>): boolean {
  const first = Object.keys(errors)[0];
  if (!first) {
    return false;
  }
  document.getElementById(`${idPrefix}-${first}`)?.focus();
  return true;
}

/** A field's label row, with the required mark. */
export function FieldLabel(props: { id: string; label: string; required?: boolean }): JSX.Element {
  return (
    <div className="jp-remote-Field-labelRow">
      <label htmlFor={props.id}>{props.label}</label>
      {props.required && (
        <span className="jp-remote-Field-required" aria-hidden="true">
          {' '}
          *
        </span>
      )}
    </div>
  );
}

/** A field's help and error lines (ids `${id}-help`, `${id}-error` for aria-describedby). */
export function FieldNotes(props: { id: string; help?: string; message?: string; hint?: string }): JSX.Element {
  const { id, help, message, hint } = props;
  return (
    <>
      {help && (
        <span className="jp-remote-Field-help" id={`${id}-help`}>
          {help}
        </span>
      )}
      {message && (
        <span className="jp-remote-Field-error" id={`${id}-error`}>
          <span aria-hidden="true">⚠ </span>
          {message}
          {hint ? ` ${hint}` : ''}
        </span>
      )}
    </>
  );
}

export interface ITextFieldProps {
  id: string;
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** The error at this field, and the server's hint to show after it. */
  message?: string;
  hint?: string;
  help?: string;
  type?: string;
  placeholder?: string;
  required?: boolean;
  disabled?: boolean;
  autoComplete?: string;
  inputMode?: 'numeric' | 'text';
  inputRef?: React.Ref<HTMLInputElement>;
}

/** One labelled text input of a server form, with its help and error. */
export function TextField(props: ITextFieldProps): JSX.Element {
  const { id, message, help } = props;
  const describedBy = [message ? `${id}-error` : '', help ? `${id}-help` : ''].filter(Boolean).join(' ');
  return (
    <div className={`jp-remote-Field${message ? ' jp-mod-invalid' : ''}`}>
      <FieldLabel id={id} label={props.label} required={props.required} />
      <input
        id={id}
        ref={props.inputRef}
        className="jp-mod-styled jp-remote-Input"
        type={props.type ?? 'text'}
        name={props.name}
        value={props.value}
        onChange={event => props.onChange(event.target.value)}
        placeholder={props.placeholder}
        required={props.required}
        disabled={props.disabled}
        autoComplete={props.autoComplete ?? 'off'}
        inputMode={props.inputMode}
        spellCheck={false}
        aria-invalid={message ? true : undefined}
        aria-describedby={describedBy || undefined}
      />
      <FieldNotes id={id} help={help} message={message} hint={props.hint} />
    </div>
  );
}

/** The Save / Cancel row of a server form, and the note while saving. */
export function FormActions(props: { saving: boolean; submitLabel: string; onCancel: () => void }): JSX.Element {
  const { saving } = props;
  return (
    <>
      <div className="jp-remote-Actions jp-remote-FormActions">
        <button type="submit" className="jp-Button jp-mod-styled jp-mod-accept" disabled={saving}>
          {saving ? 'Saving…' : props.submitLabel}
        </button>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" onClick={props.onCancel} disabled={saving}>
          Cancel
        </button>
      </div>
      {saving && (
        <p className="jp-remote-Note" role="status">
          Saving the server…
        </p>
      )}
    </>
  );
}
