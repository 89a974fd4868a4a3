/**
 * The pure components, rendered to static markup.
 */
import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import {
  authLabel,
  EmptyState,
  ErrorBox,
  formatAddress,
  Loading,
  RemoteView,
  ServerList
} from '../components';
import { IServer } from '../tokens';

const KEY_SERVER: IServer = {
  name: 'gpu-box',
  host: 'gpu.example.org',
  port: 2222,
  user: 'ada',
  identity: '~/.ssh/id_ed25519',
  auth: 'key',
  jump: null,
  readonly: false,
  has_secret: false
};

const ADMIN_SERVER: IServer = {
  name: 'cluster',
  host: 'login.example.org',
  port: null,
  user: null,
  identity: null,
  auth: 'password',
  jump: 'bastion.example.org:2200',
  readonly: true,
  has_secret: false
};

function render(element: React.ReactElement): string {
  return renderToStaticMarkup(element);
}

describe('formatAddress / authLabel', () => {
  it('formats user@host:port and leaves out defaults', () => {
    expect(formatAddress(KEY_SERVER)).toBe('ada@gpu.example.org:2222');
    expect(formatAddress(ADMIN_SERVER)).toBe('login.example.org');
    expect(formatAddress({ user: 'bob', host: 'h', port: null })).toBe('bob@h');
  });

  it('names auth methods', () => {
    expect(authLabel('key')).toBe('SSH key');
    expect(authLabel('password')).toBe('password');
    expect(authLabel('agent')).toBe('SSH agent');
    expect(authLabel('gssapi')).toBe('gssapi');
  });
});

describe('ServerList', () => {
  it('renders a semantic list with name, address, auth and a read-only tag', () => {
    const html = render(<ServerList servers={[KEY_SERVER, ADMIN_SERVER]} />);
    expect(html).toMatch(/^<ul [^>]*aria-label="Saved servers"/);
    expect(html.match(/<li /g)).toHaveLength(2);
    expect(html).toContain('gpu-box');
    expect(html).toContain('ada@gpu.example.org:2222');
    expect(html).toContain('SSH key');
    expect(html).toContain('bastion.example.org:2200');
    // only the admin-defined one is read-only
    expect(html.match(/read-only/g)).toHaveLength(1);
    expect(html).toContain('(no password saved)');
  });
});

describe('EmptyState', () => {
  it('says what to do first', () => {
    const html = render(<EmptyState />);
    expect(html).toContain('No saved servers yet.');
    expect(html).toContain('<code>jupyter remote server add NAME --host HOST</code>');
    expect(html).toContain('the form arrives in a later version');
  });
});

describe('ErrorBox', () => {
  it('shows message, hint and an accessible Retry button', () => {
    const html = render(
      <ErrorBox
        error={{ message: 'Connection refused', reason: 'unreachable', hint: 'Is sshd running?' }}
        onRetry={() => undefined}
      />
    );
    expect(html).toContain('role="alert"');
    expect(html).toContain('Error:');
    expect(html).toContain('Connection refused');
    expect(html).toContain('Is sshd running?');
    expect(html).toMatch(/<button[^>]*aria-label="Retry loading servers"[^>]*>Retry<\/button>/);
  });

  it('calls onRetry when the button is clicked', () => {
    const onRetry = jest.fn();
    const element = ErrorBox({
      error: { message: 'm', reason: '', hint: '' },
      onRetry
    });
    const button = React.Children.toArray(element.props.children).find(
      (child): child is React.ReactElement =>
        React.isValidElement(child) && child.type === 'button'
    );
    expect(button).toBeDefined();
    (button!.props as { onClick: () => void }).onClick();
    expect(onRetry).toHaveBeenCalledTimes(1);
  });
});

describe('Loading', () => {
  it('is a polite status with text', () => {
    const html = render(<Loading />);
    expect(html).toContain('role="status"');
    expect(html).toContain('Loading servers');
  });
});

describe('RemoteView', () => {
  const noop = (): void => undefined;

  it('shows the loading indicator before the first answer', () => {
    const html = render(
      <RemoteView servers={[]} loading={true} loaded={false} error={null} onRefresh={noop} />
    );
    expect(html).toContain('<h2');
    expect(html).toContain('Loading servers');
    expect(html).not.toContain('No saved servers yet');
  });

  it('shows the empty state when the answer is an empty list', () => {
    const html = render(
      <RemoteView servers={[]} loading={false} loaded={true} error={null} onRefresh={noop} />
    );
    expect(html).toContain('No saved servers yet');
    expect(html).toContain('aria-label="Refresh servers"');
  });

  it('shows the error and keeps the last servers', () => {
    const html = render(
      <RemoteView
        servers={[KEY_SERVER]}
        loading={false}
        loaded={true}
        error={{ message: 'Boom', reason: '', hint: 'Try again' }}
        onRefresh={noop}
      />
    );
    expect(html).toContain('Boom');
    expect(html).toContain('gpu-box');
    expect(html).not.toContain('No saved servers yet');
  });
});
