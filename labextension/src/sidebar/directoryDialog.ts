/**
 * The question of sidebar/notebooks.ts ({@link directoryQuestion}: a new
 * notebook's directory gone or out of reach) asked with JupyterLab's dialog:
 * Cancel, then the question's actions ("Create it", "Edit profile", "Open locally").
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import type { DirectoryChoice, IDirectoryQuestion } from './notebooks';

/** The user's choice; 'cancel' for Cancel, Escape or a closed dialog. */
export async function askWithDialog(question: IDirectoryQuestion): Promise<DirectoryChoice> {
  const result = await showDialog({
    title: question.title,
    body: question.body,
    // Enter presses the last: "Open locally", what happened before there was a choice
    buttons: [
      Dialog.cancelButton(),
      ...question.actions.map(action =>
        Dialog.okButton({ label: action.label, ariaLabel: action.ariaLabel, actions: [action.choice] })
      )
    ]
  });
  if (!result.button.accept) {
    return 'cancel';
  }
  const chosen = question.actions.find(action => result.button.actions.includes(action.choice));
  return chosen?.choice ?? 'cancel';
}
