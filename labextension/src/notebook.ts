/**
 * Insert the cell that loads a run into the active notebook.
 */

import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

import { loadRunCode } from './format';

export type InsertOutcome = 'inserted' | 'no-notebook' | 'read-only';

/**
 * Insert a code cell `import llmbench_jupyter as lj\nlj.load("<run_id>")`
 * below the active cell of the tracker's current notebook.
 */
export function insertLoadCell(
  tracker: INotebookTracker | null,
  runId: string
): InsertOutcome {
  const panel = tracker?.currentWidget ?? null;
  if (!panel || panel.isDisposed || !panel.content.model) {
    return 'no-notebook';
  }
  const notebook = panel.content;
  if (notebook.model?.readOnly) {
    return 'read-only';
  }
  NotebookActions.insertBelow(notebook);
  if (notebook.activeCell && notebook.activeCell.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  const cell = notebook.activeCell;
  if (!cell) {
    return 'no-notebook';
  }
  cell.model.sharedModel.setSource(loadRunCode(runId));
  return 'inserted';
}
