import * as React from 'react';

import { shortFingerprint, shortPath } from './format';

/** Copy text to the clipboard: the async Clipboard API, else a selected textarea. */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // no permission or an insecure context: the old way
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

export interface ICopyableProps {
  /** The whole value (shown on hover, copied by the button). */
  value: string;
  /** How to shorten it for a narrow sidebar. */
  kind: 'fingerprint' | 'path';
  /** What it is, for the copy button's accessible name ("fingerprint of gpu-box"). */
  label: string;
  /** Copy function (tests); default copyText. */
  copy?: (text: string) => Promise<void>;
}

/**
 * A fingerprint or a path on one line: shortened in the middle, the whole
 * value on hover (and to screen readers), and a button that copies it.
 */
export function Copyable({ value, kind, label, copy = copyText }: ICopyableProps): JSX.Element {
  const [copied, setCopied] = React.useState(false);
  const short = kind === 'fingerprint' ? shortFingerprint(value) : shortPath(value);
  return (
    <span className="jp-remote-Copyable">
      <code className="jp-remote-Copyable-text" title={value} aria-label={value}>
        {short}
      </code>
      <button
        type="button"
        className="jp-remote-CopyButton"
        aria-label={`Copy ${label}`}
        title={copied ? 'Copied' : `Copy ${label}`}
        onClick={() =>
          void copy(value).then(() => {
            setCopied(true);
            setTimeout(() => setCopied(false), 1500);
          })
        }
      >
        {copied ? <span aria-hidden="true">✓</span> : <CopyGlyph />}
      </button>
    </span>
  );
}

/**
 * Two overlapping sheets, drawn (the Unicode sign for it is missing from many
 * fonts and showed as an empty box).
 */
function CopyGlyph(): JSX.Element {
  return (
    <svg
      className="jp-remote-CopyGlyph"
      viewBox="0 0 16 16"
      width="12"
      height="12"
      aria-hidden="true"
      focusable="false"
    >
      <path
        d="M5 4.5V2.5a1 1 0 0 1 1-1h7.5a1 1 0 0 1 1 1V10a1 1 0 0 1-1 1h-2"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.5"
      />
      <rect x="1.5" y="5" width="9.5" height="9.5" rx="1" fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}
