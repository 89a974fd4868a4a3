/**
 * The question of a new notebook's unusable directory, asked with JupyterLab's
 * dialog: each button answers its choice; Cancel (or Escape) answers 'cancel'.
 */
import { showDialog } from '@jupyterlab/apputils';

import { askWithDialog } from '../sidebar/directoryDialog';
import { IDirectoryQuestion } from '../sidebar/notebooks';

jest.mock('@jupyterlab/apputils', () => {
  const button = (accept: boolean) => (options: Record<string, unknown> = {}) => ({
    label: accept ? 'OK' : 'Cancel',
    actions: [],
    accept,
    ...options
  });
  return {
    Dialog: { cancelButton: button(false), okButton: button(true) },
    showDialog: jest.fn()
  };
});

const show = showDialog as jest.Mock;

const QUESTION: IDirectoryQuestion = {
  title: 'Directory not found',
  body: 'There is no /scratch/gone on gpu-box.',
  actions: [
    { choice: 'create', label: 'Create it', ariaLabel: 'Create /scratch/gone on gpu-box' },
    { choice: 'edit', label: 'Edit profile', ariaLabel: 'Edit profile proj' },
    { choice: 'local', label: 'Open locally', ariaLabel: 'Open a local notebook' }
  ]
};

/** The dialog answers with its button at `index` (0: Cancel). */
function pressing(index: number): void {
  show.mockImplementationOnce(async (options: { buttons: unknown[] }) => ({
    button: options.buttons[index],
    value: null,
    isChecked: null
  }));
}

describe('askWithDialog', () => {
  it('shows the title, the text, Cancel then the actions (Enter: the last, Open locally)', async () => {
    pressing(0);
    await askWithDialog(QUESTION);
    const options = show.mock.calls[0][0];
    expect([options.title, options.body]).toEqual([QUESTION.title, QUESTION.body]);
    expect(options.buttons.map((b: { label: string }) => b.label)).toEqual([
      'Cancel',
      'Create it',
      'Edit profile',
      'Open locally'
    ]);
    expect(options.buttons[1].ariaLabel).toBe('Create /scratch/gone on gpu-box');
  });

  it.each([
    [0, 'cancel'],
    [1, 'create'],
    [2, 'edit'],
    [3, 'local']
  ])('button %i answers %s', async (index, choice) => {
    pressing(index);
    expect(await askWithDialog(QUESTION)).toBe(choice);
  });
});
