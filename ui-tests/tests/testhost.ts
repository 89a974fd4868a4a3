/**
 * The sshd test host started by global-setup.js (tests/harness/ui_host.py):
 * its details, and the signals that change it.
 */
import * as fs from 'fs';
import * as path from 'path';

import { expect } from '@jupyterlab/galata';

export const HOST_JSON = path.resolve(__dirname, '..', '.testhost', 'host.json');

export interface ITestHost {
  pid: number;
  host: string;
  port: number;
  user: string;
  identity: string;
  host_id: string;
  key_type: string;
  fingerprint: string;
  previous_fingerprint: string | null;
  remote_python: string;
  /** A Python on the login PATH without ipykernel that pip refuses (PEP 668). */
  system_python: string;
  /** The remote user's home (on this machine: the test host is local). */
  home: string;
  running: boolean;
  generation: number;
}

/** The host's details now. */
export function readHost(): ITestHost {
  return JSON.parse(fs.readFileSync(HOST_JSON, 'utf-8')) as ITestHost;
}

async function signalAndWait(signal: NodeJS.Signals): Promise<ITestHost> {
  const before = readHost();
  process.kill(before.pid, signal);
  await expect
    .poll(() => readHost().generation, { timeout: 30_000, intervals: [100, 200, 500] })
    .toBeGreaterThan(before.generation);
  return readHost();
}

/** Restart sshd with a brand-new host key (an impostor). */
export function impostor(): Promise<ITestHost> {
  return signalAndWait('SIGUSR1');
}

/** Stop sshd if it runs (dropping every connection), start it if not. */
export function toggleOutage(): Promise<ITestHost> {
  return signalAndWait('SIGUSR2');
}

/** Back to the original host key, running. */
export function restore(): Promise<ITestHost> {
  return signalAndWait('SIGHUP');
}

/** Where screenshots go: docs/screenshots with SCREENSHOTS=1, else test-results. */
export function screenshotPath(name: string): string {
  const dir = process.env.SCREENSHOTS
    ? path.resolve(__dirname, '..', '..', 'docs', 'screenshots')
    : path.resolve(__dirname, '..', 'test-results', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

/** Where the end-to-end run's screenshots go (never docs/: they change every run). */
export function artifactPath(name: string): string {
  const dir = path.resolve(__dirname, '..', 'test-results', 'e2e-screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
