/**
 * Paths of remote files, as the server extension carries them (see
 * jupyter_remote/files/paths.py): a remote name is any bytes but NUL and `/`,
 * and each byte that is not valid UTF-8 travels as a lone surrogate
 * U+DC80-U+DCFF (Python's surrogateescape). JSON carries those as `\udcXX`;
 * in a URL they must become the raw byte `%XX` (encodeURIComponent refuses
 * lone surrogates), which {@link encodeRemotePath} does.
 *
 * A server's drive is rooted at the remote's `/`: the drive path
 * `home/alice/x.ipynb` is the remote path `/home/alice/x.ipynb`.
 */

/**
 * Why a drive-local path may not go into a URL, or null when it may. A `.` or `..`
 * segment would be resolved by the browser (`%2e%2e` too), so a request could leave
 * `remote/servers/NAME/files/` (a hostile remote's home `/../../api/shutdown` made
 * a POST to `/api/shutdown`); an empty inner segment (`a//b`) is no path we make.
 */
export function unsafePathReason(localPath: string): string | null {
  const parts = localPath.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  if (parts.some(part => part === '.' || part === '..')) {
    return 'it has a "." or ".." segment';
  }
  if (parts.length > 1 && parts.some(part => part === '')) {
    return 'it has an empty segment ("//")';
  }
  return null;
}

/**
 * Whether `remotePath` is an absolute, normalized path (`/`, `/a/b`): no `.` or `..`
 * segment, no `//`, no trailing `/`. A directory a remote names (its home, a
 * kernel's working directory) is used only so.
 */
export function isNormalizedAbsolute(remotePath: string): boolean {
  if (remotePath === '/') {
    return true;
  }
  return (
    remotePath.startsWith('/') &&
    !remotePath.endsWith('/') &&
    remotePath
      .slice(1)
      .split('/')
      .every(part => part !== '' && part !== '.' && part !== '..')
  );
}

/** The remote path of a drive-local path. */
export function remotePathOf(localPath: string): string {
  return '/' + localPath.replace(/^\/+/, '');
}

/** The drive-local path of a remote (absolute) path. */
export function localPathOf(remotePath: string): string {
  return remotePath.replace(/^\/+/, '');
}

/** Percent-encode one character's UTF-8, or its raw byte for a lone U+DC80-U+DCFF. */
function encodeChar(char: string): string {
  const code = char.charCodeAt(0);
  if (char.length === 1 && code >= 0xdc80 && code <= 0xdcff) {
    return '%' + (code - 0xdc00).toString(16).toUpperCase().padStart(2, '0');
  }
  if (char.length === 1 && code >= 0xd800 && code <= 0xdfff) {
    throw new Error('The path holds a character that is not valid text.');
  }
  return encodeURIComponent(char);
}

/**
 * A remote path (drive-local, no leading slash) as URL path segments: `/`
 * kept, everything else percent-encoded byte for byte.
 */
export function encodeRemotePath(localPath: string): string {
  return localPath
    .split('/')
    .map(part => Array.from(part, encodeChar).join(''))
    .join('/');
}

/** The last component of a path. */
export function basename(path: string): string {
  const parts = path.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] ?? '';
}

/** The directory of a path ('' for a top-level name). */
export function dirname(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const at = trimmed.lastIndexOf('/');
  return at < 0 ? '' : trimmed.slice(0, at);
}

/** The drive name of a global path (`gpu:home/a/x` -> `gpu`), or '' for a local one. */
export function driveOf(path: string): string {
  const first = path.split('/')[0];
  const at = first.indexOf(':');
  return at > 0 ? first.slice(0, at) : '';
}
