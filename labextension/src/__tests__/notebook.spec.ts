import { INotebookTracker, NotebookModel } from '@jupyterlab/notebook';

import { NBTestUtils } from '@jupyterlab/notebook/lib/testutils';

import { insertLoadCell } from '../notebook';

function notebookModel(
  cells: { cell_type: 'code' | 'markdown'; source: string }[]
): NotebookModel {
  const model = new NotebookModel();
  model.fromJSON({
    cells: cells.map(cell =>
      cell.cell_type === 'code'
        ? { ...cell, metadata: {}, outputs: [], execution_count: null }
        : { ...cell, metadata: {} }
    ),
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5
  });
  return model;
}

function trackerWith(
  notebook: ReturnType<typeof NBTestUtils.createNotebook> | null
): INotebookTracker {
  return {
    currentWidget: notebook
      ? ({ content: notebook, isDisposed: false } as any)
      : null
  } as INotebookTracker;
}

// yjs warns ("Not same Y.Doc", "Invalid access") when jest loads it both as
// CommonJS and as a transformed ES module; the models still work.
let warn: jest.SpyInstance;
beforeAll(() => {
  const original = console.warn.bind(console);
  warn = jest
    .spyOn(console, 'warn')
    .mockImplementation((...args: unknown[]) => {
      const text = String(args[0] ?? '');
      if (!/Y\.Doc|Yjs|yjs/.test(text)) {
        original(...args);
      }
    });
});
afterAll(() => warn.mockRestore());

describe('insertLoadCell', () => {
  it('says so when no notebook is active', () => {
    expect(insertLoadCell(null, 'run-1')).toBe('no-notebook');
    expect(insertLoadCell(trackerWith(null), 'run-1')).toBe('no-notebook');
  });

  it('inserts a code cell loading the run below the active cell', () => {
    const notebook = NBTestUtils.createNotebook();
    const model = notebookModel([
      { cell_type: 'markdown', source: '# first' },
      { cell_type: 'code', source: 'x = 1' },
      { cell_type: 'code', source: 'y = 2' }
    ]);
    notebook.model = model;
    notebook.activeCellIndex = 0;
    expect(insertLoadCell(trackerWith(notebook), 'run-abc')).toBe('inserted');
    const cells = Array.from(model.cells);
    expect(cells).toHaveLength(4);
    expect(cells[1].type).toBe('code');
    expect(cells[1].sharedModel.getSource()).toBe(
      'import llmbench_jupyter as lj\nlj.load("run-abc")'
    );
    expect(cells[2].sharedModel.getSource()).toBe('x = 1');
    expect(notebook.activeCellIndex).toBe(1);
    notebook.dispose();
  });

  it('does not touch a read-only notebook', () => {
    const notebook = NBTestUtils.createNotebook();
    const model = notebookModel([{ cell_type: 'code', source: 'x = 1' }]);
    notebook.model = model;
    model.readOnly = true;
    expect(insertLoadCell(trackerWith(notebook), 'run-abc')).toBe('read-only');
    expect(model.cells.length).toBe(1);
    notebook.dispose();
  });
});
