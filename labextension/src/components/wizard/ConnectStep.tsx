import * as React from 'react';

import { WizardModel } from '../../wizard/model';
import { ErrorBox } from '../ErrorBox';
import { Loading } from '../Loading';
import { Detail } from '../ServerItemFrame';
import { authLabel, formatMs } from '../format';

/** What the Connect step reads and calls of the wizard model. */
export type ConnectStepModel = Pick<WizardModel, 'connect' | 'runTest' | 'trust' | 'cancelTrust'>;

export interface IConnectStepProps {
  model: ConnectStepModel;
  /** `user@host:port` of the server. */
  address: string;
  /** Epoch ms, for the elapsed time. */
  now: number;
  /** Reveal the Security drawer (to remove an old key). */
  onOpenSecurity?: () => void;
}

/** Step 1: test the connection; unknown and changed host keys. */
export function ConnectStep(props: IConnectStepProps): JSX.Element {
  const { model, address, now, onOpenSecurity } = props;
  const connect = model.connect;
  const onTest = (): void => void model.runTest();
  const onTrust = (): void => void model.trust();
  const onCancelTrust = (): void => model.cancelTrust();
  const testAgain = (
    <button type="button" className="jp-Button jp-mod-styled" onClick={onTest}>
      Test again
    </button>
  );
  switch (connect.status) {
    case 'idle':
    case 'testing': {
      const elapsed = connect.startedAt ? Math.max(0, Math.floor((now - connect.startedAt) / 1000)) : 0;
      return (
        <div className="jp-remote-ConnectStep">
          <Loading label={`Connecting to ${address}… ${elapsed} s`} />
          <p className="jp-remote-Note">
            Opening the SSH connection, checking the host key, logging in and
            looking at the server (OS, Python).
          </p>
        </div>
      );
    }
    case 'ok': {
      const result = connect.result!;
      const key = result.host_key ?? {};
      return (
        <div className="jp-remote-ConnectStep">
          <div className="jp-remote-Success" role="status">
            <span aria-hidden="true">✓ </span>
            <strong>Connected</strong> to <code>{result.endpoint || address}</code>.
          </div>
          <dl className="jp-remote-Details jp-remote-Details-wide">
            <div className="jp-remote-Detail">
              <dt>Host key</dt>
              <dd>
                {key.type ?? key.key_type ?? ''} <code className="jp-remote-Fingerprint">{key.fingerprint}</code>{' '}
                <span className="jp-remote-Note">
                  (trusted{key.source === 'known_hosts' ? ', from ~/.ssh/known_hosts' : ''})
                </span>
              </dd>
            </div>
            <div className="jp-remote-Detail">
              <dt>Login</dt>
              <dd>{authLabel(result.auth_method)}</dd>
            </div>
            <div className="jp-remote-Detail">
              <dt>Connect</dt>
              <dd>{formatMs(result.connect_ms)}</dd>
            </div>
            <div className="jp-remote-Detail">
              <dt>Round trip</dt>
              <dd>{formatMs(result.rtt_ms)}</dd>
            </div>
            <div className="jp-remote-Detail">
              <dt>System</dt>
              <dd>{result.os}</dd>
            </div>
            <div className="jp-remote-Detail">
              <dt>Python</dt>
              <dd>
                {result.python?.path ? (
                  <>
                    <code>{result.python.path}</code> {result.python.version ?? ''}
                  </>
                ) : (
                  'none on the PATH (you can still pick an environment)'
                )}
              </dd>
            </div>
          </dl>
          <div className="jp-remote-Actions">{testAgain}</div>
        </div>
      );
    }
    case 'hostkey_unknown':
    case 'trusting': {
      const unknown = connect.unknown!;
      const trusting = connect.status === 'trusting';
      return (
        <div className="jp-remote-ConnectStep">
          <div
            className="jp-remote-HostKeyPrompt"
            role="group"
            aria-labelledby="jp-remote-hostkey-unknown-title"
          >
            <h3 id="jp-remote-hostkey-unknown-title">
              Unknown host key
            </h3>
            <p>
              This is the first connection to <code>{unknown.host_id}</code>. Compare the
              fingerprint below with the one your administrator gives you (on the host:{' '}
              <code>ssh-keygen -lf /etc/ssh/ssh_host_{keyFile(unknown.key_type)}_key.pub</code>).
              Trust it only if they match.
            </p>
            <dl className="jp-remote-Details jp-remote-Details-wide">
              <Detail term="Host">
                <code>{unknown.host_id}</code>
              </Detail>
              <Detail term="Key type" className="jp-remote-HostKey-type">
                {unknown.key_type}
              </Detail>
              <Detail term="Fingerprint">
                <code className="jp-remote-Fingerprint" aria-label="SHA256 fingerprint">
                  {unknown.fingerprint}
                </code>
              </Detail>
            </dl>
            {connect.error && <ErrorBox error={connect.error} title="Trusting the key" />}
            <div className="jp-remote-Actions">
              <button
                type="button"
                className="jp-Button jp-mod-styled jp-mod-accept"
                onClick={onTrust}
                disabled={trusting}
              >
                {trusting ? 'Trusting…' : 'Trust'}
              </button>
              <button
                type="button"
                className="jp-Button jp-mod-styled jp-mod-reject"
                onClick={onCancelTrust}
                disabled={trusting}
              >
                Cancel
              </button>
            </div>
          </div>
        </div>
      );
    }
    case 'hostkey_changed': {
      const changed = connect.changed!;
      return (
        <div className="jp-remote-ConnectStep">
          <div
            className="jp-remote-HostKeyChanged"
            role="alert"
            aria-labelledby="jp-remote-hostkey-changed-title"
          >
            <h3 id="jp-remote-hostkey-changed-title">
              <span aria-hidden="true">⚠ </span>WARNING: the host key has CHANGED
            </h3>
            <p>
              <strong>
                The connection was refused. Someone may be intercepting it (a
                man-in-the-middle attack), or the host was reinstalled.
              </strong>
            </p>
            <dl className="jp-remote-Details jp-remote-Details-wide">
              <Detail term="Host">
                <code>{changed.host_id}</code>
              </Detail>
              <Detail term="Offered now">
                {changed.key_type} <code className="jp-remote-Fingerprint">{changed.fingerprint}</code>
              </Detail>
              <Detail term="Trusted">
                {changed.known_fingerprints.length
                  ? changed.known_fingerprints.map(fp => (
                      <code key={fp} className="jp-remote-Fingerprint">
                        {fp}
                      </code>
                    ))
                  : '(unknown)'}
              </Detail>
            </dl>
            <p>
              <strong>What to do:</strong> do not connect until the host&apos;s
              administrator has confirmed the new key. If it is legitimate, remove
              the old entry, then connect again and trust the new key:
            </p>
            <ul>
              <li>
                in a terminal: <code>jupyter remote hostkey remove {changed.host_id}</code>
              </li>
              <li>or in the Security drawer of the Remote sidebar.</li>
            </ul>
            <p className="jp-remote-Note">This key cannot be accepted here.</p>
            <div className="jp-remote-Actions">
              {onOpenSecurity && (
                <button type="button" className="jp-Button jp-mod-styled" onClick={onOpenSecurity}>
                  Open the Security drawer
                </button>
              )}
              {testAgain}
            </div>
          </div>
        </div>
      );
    }
    case 'cancelled':
      return (
        <div className="jp-remote-ConnectStep">
          <p role="status">
            You did not trust the host key, so nothing was saved and the wizard
            cannot go on. Test again when you have the fingerprint to compare.
          </p>
          <div className="jp-remote-Actions">{testAgain}</div>
        </div>
      );
    case 'error':
      return (
        <div className="jp-remote-ConnectStep">
          <ErrorBox
            error={connect.error!}
            title={`Connecting to ${address}`}
            onRetry={onTest}
            retryLabel="Retry the connection"
          />
        </div>
      );
  }
}

/** `ssh-ed25519` -> `ed25519`, `ecdsa-sha2-nistp256` -> `ecdsa`, `ssh-rsa` -> `rsa`. */
function keyFile(keyType: string): string {
  if (keyType.includes('ed25519')) {
    return 'ed25519';
  }
  if (keyType.includes('ecdsa')) {
    return 'ecdsa';
  }
  if (keyType.includes('rsa')) {
    return 'rsa';
  }
  return '*';
}
