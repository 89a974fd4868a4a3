/**
 * Standby kernels in the sidebar (issue 17, item 1): the profile form's option, what a
 * save sends and an edit starts from, and what the profile card and the server's kernel
 * list say of a standby (kept, ready with its memory, never offered for Attach).
 */
import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import { ReviewStep, standbyText } from '../components';
import { IProfile, IRemoteKernel } from '../rest';
import { SidebarModel } from '../sidebar/model';
import { IRemoteKernelsState } from '../tokens';
import { INITIAL_ENVIRONMENT, INITIAL_REVIEW, IReviewState } from '../wizard/state';
import { profileInput, reviewOf } from '../wizard/review';

const PROFILE: IProfile = {
  name: 'p',
  server: 'box',
  python: '/usr/bin/python3',
  kernelspec: null,
  cwd: null,
  env: {},
  idle_timeout: 0,
  display_name: 'Python 3 — box (p)',
  readonly: false,
  kernel_name: 'remote-p',
  standby: true
};

function sidebarWith(state: IRemoteKernelsState | null): SidebarModel {
  return { sessions: { remoteKernelsOf: () => state } } as unknown as SidebarModel;
}

function review(standby: boolean, setStandby?: (on: boolean) => void): string {
  const noop = (): void => undefined;
  const asyncNoop = async (): Promise<void> => undefined;
  const state: IReviewState = { ...INITIAL_REVIEW, name: 'p', standby };
  const model = {
    server: 'box',
    review: state,
    needsIpykernel: false,
    needsCwd: false,
    needsNewEnvironment: false,
    editing: null,
    gpus: [],
    pinnedGpus: new Set<number>(),
    setDisplayName: noop,
    toggleGpu: noop,
    createCwdAndSave: asyncNoop,
    openCreate: noop,
    chosenPython: '/usr/bin/python3',
    selectedEnvironment: null,
    setName: noop,
    setCwd: noop,
    setIdleTimeout: noop,
    addEnvVar: noop,
    setEnvVar: noop,
    removeEnvVar: noop,
    save: asyncNoop,
    installAndSave: asyncNoop,
    setStandby
  };
  return renderToStaticMarkup(<ReviewStep model={model as any} onOpenNotebook={noop} />);
}

describe('the standby option', () => {
  it('is a checkbox of the profile form, checked as the profile is', () => {
    const off = review(false, () => undefined);
    expect(off).toContain('Keep a kernel ready (standby)');
    expect(off).not.toMatch(/type="checkbox" checked=""/);
    expect(review(true, () => undefined)).toMatch(/type="checkbox" checked=""/);
    expect(review(true)).not.toContain('Keep a kernel ready'); // a model without it
  });

  it('is sent on save and read back for an edit', () => {
    const state: IReviewState = { ...INITIAL_REVIEW, name: 'p', standby: true };
    const env = { ...INITIAL_ENVIRONMENT, useCustom: true, customPath: '/usr/bin/python3' };
    expect(profileInput('box', state, env).standby).toBe(true);
    expect(reviewOf(PROFILE).standby).toBe(true);
    expect(reviewOf({ ...PROFILE, standby: undefined }).standby).toBe(false);
  });
});

describe('the profile card', () => {
  const standby: IRemoteKernel = {
    kernel_id: 'abcdef0123456789',
    state: 'running',
    profile: 'p',
    pid: 4242,
    standby: true,
    rss: 64 * 1024 * 1024
  };
  const loaded = (kernels: IRemoteKernel[]): IRemoteKernelsState => ({
    loading: false,
    loaded: true,
    error: null,
    kernels
  });

  it('says the standby is ready and what it holds on the server', () => {
    expect(standbyText(PROFILE, sidebarWith(loaded([standby])))).toBe('ready, pid 4242, 64 MiB on box');
  });

  it('says none is ready, or where to look before the kernels were listed', () => {
    const other = { ...standby, profile: 'q' };
    expect(standbyText(PROFILE, sidebarWith(loaded([other])))).toContain('none ready now');
    expect(standbyText(PROFILE, sidebarWith(null))).toContain("the server's Kernels list");
  });
});
