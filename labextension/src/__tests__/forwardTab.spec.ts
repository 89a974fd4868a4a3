/**
 * The session card's Open button: a forward's page opens in a new tab with no
 * handle on JupyterLab's window and no Referer (invariant 11).
 */
import { openForwardTab } from '../api';

describe('openForwardTab', () => {
  it('opens the entry URL in a new tab with noopener and noreferrer', () => {
    const open = jest.fn();
    openForwardTab({ url: '/remote/forward/f1/' }, open, { baseUrl: 'http://localhost:8888/b/' });
    expect(open).toHaveBeenCalledTimes(1);
    const [url, target, features] = open.mock.calls[0];
    expect(url).toBe('http://localhost:8888/b/remote/forward/f1/');
    expect(target).toBe('_blank');
    expect(features.split(',').sort()).toEqual(['noopener', 'noreferrer']);
  });

  it('uses window.open by default', () => {
    const open = jest.fn();
    const scope = globalThis as unknown as { window?: { open: typeof open } };
    const saved = scope.window;
    scope.window = { open };
    try {
      openForwardTab({ url: '/remote/forward/f2/' }, undefined, { baseUrl: 'http://h/' });
      expect(open).toHaveBeenCalledWith(
        'http://h/remote/forward/f2/',
        '_blank',
        'noopener,noreferrer'
      );
    } finally {
      scope.window = saved;
    }
  });
});
