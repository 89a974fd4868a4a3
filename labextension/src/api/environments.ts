/**
 * The environments of a server, installing ipykernel into one and creating a
 * new one (output streamed as NDJSON), and the server's GPUs.
 */
import {
  IEnvironment,
  IEnvironmentCreate,
  IEnvironmentCreated,
  IJupyterKernelspec,
  InstallLine,
  IServerGpus
} from '../rest';
import { RemoteAPIError } from './errors';
import { getList, jsonInit, requestAPI, send, seg } from './requests';

/** GET remote/servers/{name}/environments[?refresh=1]. */
export function listEnvironments(
  server: string,
  options: { refresh?: boolean } = {}
): Promise<IEnvironment[]> {
  const query = options.refresh ? '?refresh=1' : '';
  return getList<IEnvironment>(`servers/${seg(server)}/environments${query}`);
}

/**
 * GET remote/servers/{name}/environments of a Jupyter server: its kernelspecs
 * (the server writes ours, `remote-<name>--<kernel>`, as it answers).
 */
export function listJupyterKernelspecs(server: string): Promise<IJupyterKernelspec[]> {
  return getList<IJupyterKernelspec>(`servers/${seg(server)}/environments`);
}

/** Parse NDJSON text into lines; returns the unfinished rest. */
export function splitLines(buffer: string, onLine: (line: string) => void): string {
  let rest = buffer;
  let index = rest.indexOf('\n');
  while (index >= 0) {
    const line = rest.slice(0, index).trim();
    rest = rest.slice(index + 1);
    if (line) {
      onLine(line);
    }
    index = rest.indexOf('\n');
  }
  return rest;
}

function parseInstallLine(text: string): InstallLine {
  try {
    const value = JSON.parse(text) as InstallLine;
    if (value && typeof value === 'object' && typeof value.type === 'string') {
      return value;
    }
  } catch {
    // fall through: show it as output
  }
  return { type: 'output', line: text };
}

/**
 * POST remote/servers/{name}/install-ipykernel, streaming pip's output.
 *
 * @param onOutput called with each line of pip's output as it arrives
 * @returns when the final line says done
 * @throws RemoteAPIError when the request fails or the final line is an error
 */
export async function installIpykernel(
  server: string,
  python: string,
  onOutput: (line: string) => void
): Promise<void> {
  const response = await send(`servers/${seg(server)}/install-ipykernel`, jsonInit('POST', { python }));
  const last = await readNDJSON(response, onOutput);
  if (last.type === 'done' && !last.ok) {
    throw new RemoteAPIError({
      status: response.status,
      message: 'pip did not install ipykernel.',
      reason: 'install_failed',
      hint: "See pip's output above."
    });
  }
}

/**
 * POST remote/servers/{name}/environments: make an environment with ipykernel
 * from a base interpreter (venv, uv or conda), streaming the output.
 *
 * @returns the environment made
 * @throws RemoteAPIError (reason `conflict`: the name exists)
 */
export async function createEnvironment(
  server: string,
  input: IEnvironmentCreate,
  onOutput: (line: string) => void
): Promise<IEnvironmentCreated> {
  const response = await send(`servers/${seg(server)}/environments`, jsonInit('POST', input));
  const last = await readNDJSON(response, onOutput);
  if (last.type !== 'done' || !last.ok || !last.environment) {
    throw new RemoteAPIError({
      status: response.status,
      message: 'The environment was not created.',
      reason: 'create_failed',
      hint: 'See the output above.'
    });
  }
  return last.environment;
}

/** GET remote/servers/{name}/gpus[?refresh=1]: the GPUs the last probe saw. */
export function getServerGpus(server: string, options: { refresh?: boolean } = {}): Promise<IServerGpus> {
  const query = options.refresh ? '?refresh=1' : '';
  return requestAPI<IServerGpus>(`servers/${seg(server)}/gpus${query}`);
}

/**
 * Read an NDJSON answer: each output line goes to `onOutput`; returns the
 * final line, or throws its error (or a `stream_cut` one when it never came).
 */
async function readNDJSON(response: Response, onOutput: (line: string) => void): Promise<InstallLine> {
  let final: InstallLine | null = null;
  const handle = (text: string): void => {
    const line = parseInstallLine(text);
    if (line.type === 'output') {
      onOutput(line.line);
    } else {
      final = line;
    }
  };
  const reader = response.body?.getReader?.();
  if (reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      buffer = splitLines(buffer + decoder.decode(value, { stream: true }), handle);
    }
    splitLines(buffer + decoder.decode() + '\n', handle);
  } else {
    splitLines((await response.text()) + '\n', handle);
  }
  const last = final as InstallLine | null;
  if (last === null) {
    throw new RemoteAPIError({
      status: response.status,
      message: 'The stream ended before it said whether the step succeeded.',
      reason: 'stream_cut',
      hint: 'Refresh the environments to see what is there now, then retry.'
    });
  }
  if (last.type === 'error') {
    throw new RemoteAPIError({
      status: response.status,
      message: last.message,
      reason: last.reason,
      hint: last.hint,
      details: last as unknown as Record<string, unknown>
    });
  }
  return last;
}
