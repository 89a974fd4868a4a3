import * as React from 'react';

import { IRemoteError, IServer, IServerInput, JupyterAuthMethod, ServerKind } from '../tokens';
import { ErrorBox } from './ErrorBox';
import { FieldLabel, FieldNotes, FormActions, TextField, focusFirstError, useFormErrors } from './FormFields';

/** Field names of the Jupyter-server form (the same as the REST body's). */
export type JupyterServerField =
  | 'name'
  | 'url'
  | 'auth'
  | 'token'
  | 'password'
  | 'via'
  | 'default_kernel'
  | 'ca_file';

const FIELDS: readonly JupyterServerField[] = [
  'name',
  'url',
  'auth',
  'token',
  'password',
  'via',
  'default_kernel',
  'ca_file'
];

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** What the user typed, as strings. */
export interface IJupyterServerFormValues {
  name: string;
  url: string;
  auth: JupyterAuthMethod;
  token: string;
  password: string;
  /** '' = directly; else the saved SSH server it is reached through. */
  via: string;
  default_kernel: string;
  ca_file: string;
}

/** The form field a 400 answer's `field` is about, if it is one of ours. */
export function jupyterFormField(field: string | undefined): JupyterServerField | undefined {
  const key = (field ?? '').trim().toLowerCase();
  return FIELDS.find(f => key === f);
}

/** The form's starting values: empty, or those of the Jupyter server being edited. */
export function initialJupyterValues(server?: IServer | null): IJupyterServerFormValues {
  const auth = server?.auth;
  return {
    name: server?.name ?? '',
    url: server?.url ?? '',
    auth: auth === 'password' || auth === 'none' ? auth : 'token',
    token: '',
    password: '',
    via: server?.via ?? '',
    default_kernel: server?.default_kernel ?? '',
    ca_file: server?.ca_file ?? ''
  };
}

/** Checks that need no server; field -> message. The server checks the rest. */
export function validateJupyterServerForm(
  values: IJupyterServerFormValues,
  mode: 'add' | 'edit' = 'add'
): Partial<Record<JupyterServerField, string>> {
  const errors: Partial<Record<JupyterServerField, string>> = {};
  if (!NAME_RE.test(values.name.trim())) {
    errors.name = 'Use 1 to 64 letters, digits, dots, dashes or underscores.';
  }
  const url = values.url.trim();
  if (!/^https?:\/\/[^/?#\s]+/i.test(url)) {
    errors.url = 'Give the URL the server is opened at, e.g. https://lab.example.org/ or http://127.0.0.1:8888/.';
  } else if (/[?&]token=/i.test(url)) {
    errors.url = 'Leave the token out of the URL: give it in the Token field (it is kept in your keyring).';
  }
  if (mode === 'add' && values.auth === 'token' && !values.token) {
    errors.token = 'Give the server\'s token (from its start-up log or `jupyter server list`).';
  }
  if (mode === 'add' && values.auth === 'password' && !values.password) {
    errors.password = 'Give the server\'s password.';
  }
  const ca = values.ca_file.trim();
  if (ca && !ca.startsWith('/') && !ca.startsWith('~')) {
    errors.ca_file = 'Give the absolute path of the CA certificate (PEM) on this machine.';
  }
  return errors;
}

/**
 * The REST body for the values: empty optional fields are null (so an edit
 * can clear them); the token or password only when typed (an edit keeps the
 * stored one).
 */
export function toJupyterServerInput(values: IJupyterServerFormValues, mode: 'add' | 'edit'): IServerInput {
  const input: IServerInput = {
    kind: 'jupyter',
    url: values.url.trim(),
    auth: values.auth,
    via: values.via || null,
    default_kernel: values.default_kernel.trim() || null,
    ca_file: values.ca_file.trim() || null
  };
  if (mode === 'add') {
    input.name = values.name.trim();
  }
  if (values.auth === 'token' && values.token) {
    input.token = values.token;
  }
  if (values.auth === 'password' && values.password) {
    input.password = values.password;
  }
  return input;
}

const AUTH_CHOICES: Array<{ value: JupyterAuthMethod; label: string }> = [
  { value: 'token', label: 'Token' },
  { value: 'password', label: 'Password' },
  { value: 'none', label: 'None' }
];

/** The add form's choice between an SSH host and a Jupyter server. */
export function ServerKindChoice(props: {
  kind: ServerKind;
  onChange: (kind: ServerKind) => void;
  disabled: boolean;
}): JSX.Element {
  const name = React.useMemo(() => `jp-remote-kind-${Math.random().toString(36).slice(2, 8)}`, []);
  const choices: Array<{ value: ServerKind; label: string; help: string }> = [
    { value: 'ssh', label: 'SSH host', help: 'Kernels started on the host over SSH, with a relay that keeps every output.' },
    {
      value: 'jupyter',
      label: 'Jupyter server',
      help: 'The kernels of a Jupyter server that already runs (a workstation, a VM, a JupyterHub user server).'
    }
  ];
  return (
    <fieldset className="jp-remote-Field jp-remote-KindChoice">
      <legend>Kind</legend>
      {choices.map(choice => (
        <label key={choice.value} className="jp-remote-Radio" title={choice.help}>
          <input
            type="radio"
            name={name}
            value={choice.value}
            checked={props.kind === choice.value}
            onChange={() => props.onChange(choice.value)}
            disabled={props.disabled}
          />
          {choice.label}
        </label>
      ))}
    </fieldset>
  );
}

export interface IJupyterServerFormProps {
  mode: 'add' | 'edit';
  server?: IServer | null;
  saving: boolean;
  error: IRemoteError | null;
  /** Names of the saved SSH servers (the choices of "Through the SSH server"). */
  sshServers: readonly string[];
  /** The kind chooser of the add form, shown under the title. */
  kindChoice?: React.ReactNode;
  onSubmit: (input: IServerInput) => void;
  onCancel: () => void;
}

/** Add or edit a Jupyter server; validation messages appear at their field. */
export function JupyterServerForm(props: IJupyterServerFormProps): JSX.Element {
  const { mode, server, saving, error, sshServers, onSubmit, onCancel } = props;
  const [values, setValues] = React.useState<IJupyterServerFormValues>(() => initialJupyterValues(server));
  const errors = useFormErrors<JupyterServerField>(error, jupyterFormField);
  const idPrefix = React.useMemo(() => `jp-remote-jform-${Math.random().toString(36).slice(2, 8)}`, []);

  const update = (field: JupyterServerField, value: string): void => {
    setValues(v => ({ ...v, [field]: value }));
    errors.clear(field);
  };

  const submit = (event: React.FormEvent): void => {
    event.preventDefault();
    const found = validateJupyterServerForm(values, mode);
    errors.setLocal(found);
    if (!focusFirstError(idPrefix, found)) {
      onSubmit(toJupyterServerInput(values, mode));
    }
  };

  const notes = (name: JupyterServerField, help?: string): JSX.Element => (
    <FieldNotes id={`${idPrefix}-${name}`} help={help} message={errors.messageOf(name)} hint={errors.hintOf(name)} />
  );

  const field = (
    name: Exclude<JupyterServerField, 'auth' | 'via'>,
    label: string,
    options: { type?: string; placeholder?: string; help?: string; required?: boolean; disabled?: boolean } = {}
  ): JSX.Element => (
    <TextField
      id={`${idPrefix}-${name}`}
      name={name}
      label={label}
      value={values[name]}
      onChange={value => update(name, value)}
      message={errors.messageOf(name)}
      hint={errors.hintOf(name)}
      {...options}
      disabled={options.disabled || saving}
      autoComplete={options.type === 'password' ? 'new-password' : 'off'}
    />
  );

  const title = mode === 'add' ? 'Add a server' : `Edit server ${server?.name ?? ''}`;
  const generalError = error && !errors.serverField ? error : null;
  const kept = mode === 'edit' && server?.has_secret;
  const viaId = `${idPrefix}-via`;
  /** The token or password field: required when adding, kept when left empty in an edit. */
  const secretField = (name: 'token' | 'password', label: string): JSX.Element =>
    field(name, label, {
      type: 'password',
      required: mode === 'add',
      help: kept
        ? `A ${name} is saved; type a new one to replace it.`
        : 'Kept in your keyring (or this server process only), never on disk.'
    });
  // the saved one stays a choice even if the list of SSH servers is not loaded yet
  const viaChoices = values.via && !sshServers.includes(values.via) ? [...sshServers, values.via] : sshServers;
  return (
    <form className="jp-remote-ServerForm jp-remote-JupyterServerForm" aria-label={title} onSubmit={submit} noValidate>
      <h3 className="jp-remote-FormTitle">{title}</h3>
      {props.kindChoice}
      {generalError && <ErrorBox error={generalError} />}
      {field('name', 'Name', {
        required: true,
        placeholder: 'lab-workstation',
        help: mode === 'add' ? 'How you will refer to it; letters, digits, . _ -' : 'A server cannot be renamed.',
        disabled: mode === 'edit'
      })}
      {field('url', 'URL', {
        required: true,
        placeholder: 'https://lab.example.org/  or  https://hub.example.org/user/NAME/',
        help: 'Where the server is opened, with its base path; through an SSH server, as that host sees it (e.g. http://127.0.0.1:8888/).'
      })}
      <fieldset className={`jp-remote-Field jp-remote-AuthChoice${errors.messageOf('auth') ? ' jp-mod-invalid' : ''}`}>
        <legend>Authentication</legend>
        {AUTH_CHOICES.map(choice => (
          <label key={choice.value} className="jp-remote-Radio">
            <input
              type="radio"
              name={`${idPrefix}-auth`}
              value={choice.value}
              checked={values.auth === choice.value}
              onChange={() => update('auth', choice.value)}
              disabled={saving}
            />
            {choice.label}
          </label>
        ))}
        {notes('auth')}
      </fieldset>
      {values.auth === 'token' && secretField('token', 'Token')}
      {values.auth === 'password' && secretField('password', 'Password')}
      <div className={`jp-remote-Field${errors.messageOf('via') ? ' jp-mod-invalid' : ''}`}>
        <FieldLabel id={viaId} label="Through the SSH server" />
        <select
          id={viaId}
          name="via"
          className="jp-mod-styled jp-remote-Input"
          value={values.via}
          onChange={event => update('via', event.target.value)}
          disabled={saving}
          aria-describedby={`${viaId}-help`}
        >
          <option value="">Directly (no tunnel)</option>
          {viaChoices.map(name => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        {notes(
          'via',
          'For a server only an SSH host reaches (its 127.0.0.1, behind a firewall): a private tunnel through that saved SSH server.'
        )}
      </div>
      {field('default_kernel', 'Default kernel', {
        placeholder: 'python3',
        help: 'Optional: the remote kernelspec notebooks start by default.'
      })}
      {field('ca_file', 'CA file', {
        placeholder: '~/certs/lab-ca.pem',
        help: 'Optional: a CA certificate (PEM) the server\'s HTTPS certificate chains to. Certificates are always checked.'
      })}
      <FormActions saving={saving} submitLabel={mode === 'add' ? 'Save and list kernels' : 'Save'} onCancel={onCancel} />
    </form>
  );
}
