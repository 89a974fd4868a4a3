import * as React from 'react';

import { AuthMethod, ChannelTransport, IRemoteError, IServer, IServerInput, ServerKind } from '../tokens';
import { ErrorBox } from './ErrorBox';
import { FormActions, TextField, focusFirstError, useFormErrors } from './FormFields';
import { JupyterServerForm, ServerKindChoice } from './JupyterServerForm';

/** Field names of the server form (the same as the REST body's). */
export type ServerField =
  | 'name'
  | 'host'
  | 'port'
  | 'user'
  | 'auth'
  | 'identity'
  | 'passphrase'
  | 'password'
  | 'jump'
  | 'channel_transport';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

const FIELDS: readonly ServerField[] = [
  'name',
  'host',
  'port',
  'user',
  'auth',
  'identity',
  'passphrase',
  'password',
  'jump',
  'channel_transport'
];

/**
 * The form field a 400 answer's `field` is about. The server names some
 * after what they check ("jump host", "jump user", "jump port"): those go to
 * the field whose name they start with.
 */
export function formField(field: string | undefined): ServerField | undefined {
  if (!field) {
    return undefined;
  }
  const key = field.trim().toLowerCase();
  return FIELDS.find(f => key === f || key.startsWith(`${f} `) || key.startsWith(`${f}_`));
}

/** What the user typed, as strings. */
export interface IServerFormValues {
  name: string;
  host: string;
  port: string;
  user: string;
  auth: AuthMethod;
  identity: string;
  passphrase: string;
  password: string;
  jump: string;
  channel_transport: ChannelTransport;
}

/** The form's starting values: empty, or those of the server being edited. */
export function initialValues(server?: IServer | null): IServerFormValues {
  return {
    name: server?.name ?? '',
    host: server?.host ?? '',
    port: server?.port !== null && server?.port !== undefined ? String(server.port) : '',
    user: server?.user ?? '',
    auth: sshAuth(server?.auth),
    identity: server?.identity ?? '',
    passphrase: '',
    password: '',
    jump: server?.jump ?? '',
    channel_transport: server?.channel_transport ?? 'unix'
  };
}

function sshAuth(auth: string | undefined): AuthMethod {
  return auth === 'password' || auth === 'agent' ? auth : 'key';
}

/** Checks that need no server; field -> message. The server checks the rest. */
export function validateServerForm(values: IServerFormValues): Partial<Record<ServerField, string>> {
  const errors: Partial<Record<ServerField, string>> = {};
  if (!NAME_RE.test(values.name.trim())) {
    errors.name = 'Use 1 to 64 letters, digits, dots, dashes or underscores.';
  }
  if (!values.host.trim()) {
    errors.host = 'Give the host name or address of the server.';
  }
  const port = values.port.trim();
  if (port && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    errors.port = 'A port is a number from 1 to 65535 (leave empty for 22).';
  }
  const identity = values.identity.trim();
  if (values.auth === 'key' && identity && !identity.startsWith('/') && !identity.startsWith('~')) {
    errors.identity = 'Give the absolute path of the private key, e.g. ~/.ssh/id_ed25519.';
  }
  return errors;
}

/**
 * The REST body for the values: empty optional fields are null (so an edit
 * can clear them); secrets only when typed (an edit keeps the stored one).
 */
export function toServerInput(values: IServerFormValues, mode: 'add' | 'edit'): IServerInput {
  const input: IServerInput = {
    host: values.host.trim(),
    port: values.port.trim() ? Number(values.port.trim()) : null,
    user: values.user.trim() || null,
    auth: values.auth,
    identity: values.auth === 'key' ? values.identity.trim() || null : null,
    jump: values.jump.trim() || null,
    channel_transport: values.channel_transport
  };
  if (mode === 'add') {
    input.name = values.name.trim();
  }
  if (values.auth === 'password' && values.password) {
    input.password = values.password;
  }
  if (values.auth === 'key' && values.passphrase) {
    input.passphrase = values.passphrase;
  }
  return input;
}

export interface IServerFormProps {
  mode: 'add' | 'edit';
  /** The server being edited. */
  server?: IServer | null;
  /** Whether the save request is in flight. */
  saving: boolean;
  /** The error of the last save (a 400's `field` is shown at that field). */
  error: IRemoteError | null;
  onSubmit: (input: IServerInput) => void;
  onCancel: () => void;
  /** Names of the saved SSH servers (a Jupyter server may be reached through one). */
  sshServers?: readonly string[];
  /** The kind chooser of the add form (set by ServerForm). */
  kindChoice?: React.ReactNode;
}

/** Shown while TCP channels are chosen; the saved server then carries the same warning. */
export const TCP_CHANNELS_NOTE =
  'Only if the host\'s sshd forbids socket forwarding: kernel channels then use a port on ' +
  'the remote\'s 127.0.0.1 that other users of the host can see and connect to (the relay ' +
  'answers only a client with the kernel\'s secret token).';

/** The "Kernel channels" radios, in the order shown. */
const CHANNEL_CHOICES: ReadonlyArray<[ChannelTransport, string]> = [
  ['unix', 'Private unix socket (recommended)'],
  ['exec', 'Over an exec channel (for an sshd that forbids forwarding; nothing listens)'],
  ['tcp', "TCP on the remote's 127.0.0.1"]
];

const AUTH_CHOICES: Array<{ value: AuthMethod; label: string; help: string }> = [
  { value: 'key', label: 'SSH key', help: 'A private key file on this machine.' },
  { value: 'agent', label: 'SSH agent', help: 'Keys held by your running ssh-agent.' },
  { value: 'password', label: 'Password', help: 'Kept in your keyring, never on disk.' }
];

/**
 * Add or edit a server: the add form first asks which kind (an SSH host, or a
 * Jupyter server that already runs); an edit keeps the server's kind.
 */
export function ServerForm(props: IServerFormProps): JSX.Element {
  const [kind, setKind] = React.useState<ServerKind>(props.server?.kind ?? 'ssh');
  const kindChoice =
    props.mode === 'add' ? <ServerKindChoice kind={kind} onChange={setKind} disabled={props.saving} /> : null;
  if (kind === 'jupyter') {
    return <JupyterServerForm {...props} sshServers={props.sshServers ?? []} kindChoice={kindChoice} />;
  }
  return <SshServerForm {...props} kindChoice={kindChoice} />;
}

/** Add or edit an SSH host; validation messages appear at their field. */
function SshServerForm(props: IServerFormProps): JSX.Element {
  const { mode, server, saving, error, onSubmit, onCancel } = props;
  const [values, setValues] = React.useState<IServerFormValues>(() => initialValues(server));
  const errors = useFormErrors<ServerField>(error, formField);
  const idPrefix = React.useMemo(() => `jp-remote-form-${Math.random().toString(36).slice(2, 8)}`, []);
  const firstField = React.useRef<HTMLInputElement>(null);

  React.useEffect(() => {
    firstField.current?.focus();
  }, []);

  const submit = (event: React.FormEvent): void => {
    event.preventDefault();
    const found = validateServerForm(values);
    errors.setLocal(found);
    if (!focusFirstError(idPrefix, found)) {
      onSubmit(toServerInput(values, mode));
    }
  };

  const field = (
    name: Exclude<ServerField, 'auth' | 'channel_transport'>,
    label: string,
    options: {
      type?: string;
      placeholder?: string;
      help?: string;
      required?: boolean;
      disabled?: boolean;
      autoComplete?: string;
      inputMode?: 'numeric' | 'text';
      ref?: React.Ref<HTMLInputElement>;
    } = {}
  ): JSX.Element => {
    const { ref, ...rest } = options;
    return (
      <TextField
        id={`${idPrefix}-${name}`}
        name={name}
        label={label}
        value={values[name]}
        onChange={value => {
          setValues(v => ({ ...v, [name]: value }));
          errors.clear(name);
        }}
        message={errors.messageOf(name)}
        hint={errors.hintOf(name)}
        inputRef={ref}
        {...rest}
        disabled={options.disabled || saving}
      />
    );
  };

  const title = mode === 'add' ? 'Add a server' : `Edit server ${server?.name ?? ''}`;
  const generalError = error && !errors.serverField ? error : null;
  const authMessage = errors.messageOf('auth');

  return (
    <form className="jp-remote-ServerForm" aria-label={title} onSubmit={submit} noValidate>
      <h3 className="jp-remote-FormTitle">{title}</h3>
      {props.kindChoice}
      {generalError && <ErrorBox error={generalError} />}
      {field('name', 'Name', {
        required: true,
        placeholder: 'gpu-box',
        help: mode === 'add' ? 'How you will refer to it; letters, digits, . _ -' : 'A server cannot be renamed.',
        disabled: mode === 'edit',
        ref: mode === 'add' ? firstField : undefined
      })}
      {field('host', 'Host', {
        required: true,
        placeholder: 'gpu-box.example.org',
        help: 'Host name, address, or a Host alias of ~/.ssh/config.',
        ref: mode === 'edit' ? firstField : undefined
      })}
      <div className="jp-remote-FieldRow">
        {field('port', 'Port', { placeholder: '22', inputMode: 'numeric' })}
        {field('user', 'User', { placeholder: 'default: ~/.ssh/config', autoComplete: 'off' })}
      </div>
      <fieldset className={`jp-remote-Field jp-remote-AuthChoice${authMessage ? ' jp-mod-invalid' : ''}`}>
        <legend>Authentication</legend>
        {AUTH_CHOICES.map(choice => (
          <label key={choice.value} className="jp-remote-Radio" title={choice.help}>
            <input
              type="radio"
              name={`${idPrefix}-auth`}
              value={choice.value}
              checked={values.auth === choice.value}
              onChange={() => setValues(v => ({ ...v, auth: choice.value }))}
              disabled={saving}
            />
            {choice.label}
          </label>
        ))}
        {authMessage && (
          <span className="jp-remote-Field-error">
            <span aria-hidden="true">⚠ </span>
            {authMessage}
          </span>
        )}
      </fieldset>
      {values.auth === 'key' &&
        field('identity', 'Key file', {
          placeholder: '~/.ssh/id_ed25519',
          help: 'Path of the private key on this machine; empty: SSH defaults.'
        })}
      {values.auth === 'key' &&
        field('passphrase', 'Key passphrase', {
          type: 'password',
          autoComplete: 'new-password',
          help:
            mode === 'edit' && server?.has_secret
              ? 'A passphrase is saved; type a new one to replace it.'
              : 'Only if the key is encrypted. Kept in your keyring, never on disk.'
        })}
      {values.auth === 'password' &&
        field('password', 'Password', {
          type: 'password',
          autoComplete: 'new-password',
          help:
            mode === 'edit' && server?.has_secret
              ? 'A password is saved; type a new one to replace it.'
              : 'Kept in your keyring (or this server process only), never on disk.'
        })}
      {field('jump', 'Jump host', {
        placeholder: 'user@bastion.example.org:22',
        help: 'Optional: connect through this host first ([user@]host[:port]).'
      })}
      <fieldset className="jp-remote-Field jp-remote-ChannelChoice">
        <legend>Kernel channels</legend>
        {CHANNEL_CHOICES.map(([transport, label]) => (
          <label className="jp-remote-Radio" key={transport}>
            <input
              type="radio"
              name={`${idPrefix}-channel_transport`}
              value={transport}
              checked={values.channel_transport === transport}
              onChange={() => setValues(v => ({ ...v, channel_transport: transport }))}
              disabled={saving}
            />
            {label}
          </label>
        ))}
        {values.channel_transport === 'tcp' && (
          <p className="jp-remote-Warning" role="note">
            <span aria-hidden="true">⚠ </span>
            {TCP_CHANNELS_NOTE}
          </p>
        )}
      </fieldset>
      <FormActions saving={saving} submitLabel={mode === 'add' ? 'Save and connect' : 'Save'} onCancel={onCancel} />
    </form>
  );
}
