/**
 * @llmbench/jupyterlab: a left-sidebar panel with the user's live jobs
 * (cancel included), recent runs, the leaderboard, experiments and schedules,
 * read from the llmbench Jupyter server extension's REST API.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { ICommandPalette } from '@jupyterlab/apputils';

import { INotebookTracker } from '@jupyterlab/notebook';

import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { LabIcon } from '@jupyterlab/ui-components';

import { LlmbenchApi } from './api';

import { Backoff } from './backoff';

import { PanelModel } from './model';

import { insertLoadCell } from './notebook';

import { LlmbenchPanel } from './panel';

import { MARK, mark } from './perf';

import { Poller } from './poller';

import llmbenchSvg from '../style/icons/llmbench.svg';

export { LlmbenchApi, apiUrl, mapResponse } from './api';
export { Backoff } from './backoff';
export { PanelModel } from './model';
export { LlmbenchPanel } from './panel';
export { Poller } from './poller';
export { MARK } from './perf';

export const PLUGIN_ID = '@llmbench/jupyterlab:plugin';

export namespace CommandIDs {
  export const open = 'llmbench:open-panel';
  export const refresh = 'llmbench:refresh-panel';
}

export const llmbenchIcon = new LabIcon({
  name: 'llmbench:panel',
  svgstr: llmbenchSvg
});

const DEFAULT_REFRESH_S = 2;
const DEFAULT_ROWS = 10;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'A side panel with llmbench jobs (live, cancellable), recent runs, the leaderboard, experiments and schedules.',
  autoStart: true,
  optional: [
    ISettingRegistry,
    ITranslator,
    ICommandPalette,
    INotebookTracker,
    ILayoutRestorer
  ],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null
  ) => {
    const trans = (translator ?? nullTranslator).load('llmbench_jupyter');
    const api = new LlmbenchApi(app.serviceManager.serverSettings);
    const model = new PanelModel({ api, rowsShown: DEFAULT_ROWS });
    const poller = new Poller({
      poll: force => model.poll(force),
      backoff: new Backoff({ intervalMs: DEFAULT_REFRESH_S * 1000 })
    });
    model.activity.connect(() => void poller.refresh(false));

    const panel = new LlmbenchPanel({
      model,
      translator: translator ?? nullTranslator,
      onRefresh: () => void poller.refresh(true),
      onOpenRun: run => {
        switch (insertLoadCell(notebooks, run.run_id)) {
          case 'inserted': {
            const current = notebooks?.currentWidget;
            if (current) {
              app.shell.activateById(current.id);
            }
            return null;
          }
          case 'read-only':
            return trans.__(
              'The active notebook is read-only: run lj.load("%1") in a notebook you can edit.',
              run.run_id
            );
          default:
            return trans.__(
              'Open a notebook first: a click on a run inserts lj.load("%1") below its active cell.',
              run.run_id
            );
        }
      }
    });
    panel.title.icon = llmbenchIcon;
    app.shell.add(panel, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    panel.disposed.connect(() => {
      poller.dispose();
      model.dispose();
    });
    mark(MARK.loadStart);
    poller.start();

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('llmbench: Open panel'),
      caption: trans.__('Show the llmbench panel (jobs, runs, leaderboard)'),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('llmbench: Refresh panel'),
      caption: trans.__(
        'Reload jobs, runs, the leaderboard, experiments and schedules'
      ),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => poller.refresh(true)
    });
    if (palette) {
      const category = 'llmbench';
      palette.addItem({ command: CommandIDs.open, category });
      palette.addItem({ command: CommandIDs.refresh, category });
    }

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings): void => {
        const seconds = Number(settings.get('refreshInterval').composite);
        const rows = Number(settings.get('rowsShown').composite);
        poller.backoff.intervalMs =
          (Number.isFinite(seconds) && seconds > 0
            ? seconds
            : DEFAULT_REFRESH_S) * 1000;
        model.rowsShown =
          Number.isFinite(rows) && rows > 0 ? rows : DEFAULT_ROWS;
        void poller.refresh(false);
      };
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error(`Failed to load settings for ${PLUGIN_ID}.`, reason);
        });
    }
  }
};

export default plugin;
