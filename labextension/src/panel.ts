/**
 * The left-sidebar widget: plain DOM over a `PanelModel`.
 */

import {
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';

import { Message } from '@lumino/messaging';

import { Widget } from '@lumino/widgets';

import { IRun, LeaderboardBy } from './api';

import { PanelModel } from './model';

import { MARK, mark, markFirstPaint } from './perf';

import { h, renderJobs, renderRuns, renderUnreachable } from './render';

import {
  renderExperiments,
  renderLeaderboard,
  renderLeaderboardSelect,
  renderSchedules
} from './render_tables';

export const PANEL_ID = 'llmbench-panel';

export interface ILlmbenchPanelOptions {
  model: PanelModel;
  translator?: ITranslator;
  /** A click on a run. Returns a message to show, or null. */
  onOpenRun: (run: IRun) => string | null | Promise<string | null>;
  /** Refresh now (the toolbar button, Retry). */
  onRefresh: () => void;
}

export class LlmbenchPanel extends Widget {
  constructor(options: ILlmbenchPanelOptions) {
    super();
    this.model = options.model;
    this._trans = (options.translator ?? nullTranslator).load(
      'llmbench_jupyter'
    );
    this._onOpenRun = options.onOpenRun;
    this._onRefresh = options.onRefresh;
    this.id = PANEL_ID;
    this.addClass('jp-llmbench-panel');
    this.node.setAttribute('data-testid', 'llmbench-panel');
    this.title.caption = this._trans.__('llmbench: jobs, runs and leaderboard');
    this._build();
    this.model.changed.connect(this._onModelChanged, this);
    this.render();
  }

  readonly model: PanelModel;

  /** Show a short message at the top of the panel (e.g. "open a notebook"). */
  showMessage(text: string | null): void {
    this._message.textContent = text ?? '';
    this._message.hidden = !text;
  }

  /** Re-render every section from the model. */
  render(): void {
    const model = this.model;
    const trans = this._trans;
    const rows = model.rowsShown;

    const status = model.status.data;
    this._status.textContent = status
      ? [status.owner, status.store, status.version ? `v${status.version}` : '']
          .filter(Boolean)
          .join(' · ')
      : '';

    const unreachable = model.unreachable;
    this._unreachable.replaceChildren(
      ...(unreachable
        ? [renderUnreachable(unreachable, trans, this._onRefresh)]
        : [])
    );
    this._unreachable.hidden = !unreachable;
    this._sections.hidden = !!unreachable;
    if (!this._painted && model.firstRowsReady && this.isVisible) {
      this._painted = true; // jobs and runs rendered below (or the unreachable state, above)
      markFirstPaint();
    }
    this.node.setAttribute(
      'data-state',
      unreachable ? 'unreachable' : model.loaded ? 'ready' : 'loading'
    );
    if (unreachable) {
      return;
    }

    const active = (model.jobs.data ?? []).filter(
      job => job.state === 'queued' || job.state === 'running'
    ).length;
    this._jobsCount.textContent = active ? `(${active})` : '';
    this._jobs.replaceChildren(
      renderJobs(
        model.jobs,
        trans,
        {
          onCancel: jobId => void model.cancel(jobId),
          isCancelling: job => model.isCancelling(job),
          cancelError: jobId => model.cancelError(jobId)
        },
        rows
      )
    );
    this._runs.replaceChildren(
      renderRuns(model.runs, trans, run => void this._openRun(run), rows)
    );
    if (this._select.value !== model.leaderboardBy) {
      this._select.value = model.leaderboardBy;
    }
    this._leaderboard.replaceChildren(
      renderLeaderboard(model.leaderboard, trans, rows)
    );
    this._experiments.replaceChildren(
      renderExperiments(model.experiments, trans, rows)
    );
    this._schedules.replaceChildren(
      renderSchedules(model.schedules, trans, rows)
    );
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  protected onUpdateRequest(msg: Message): void {
    this.render();
  }

  protected onAfterShow(msg: Message): void {
    this._markShown();
  }

  protected onAfterAttach(msg: Message): void {
    if (this.isVisible) {
      this._markShown(); // attached already visible: no after-show comes
    }
  }

  private _markShown(): void {
    if (!this._shown) {
      this._shown = true;
      mark(MARK.shown);
    }
    this.update();
  }

  private _onModelChanged(): void {
    this.update();
  }

  private async _openRun(run: IRun): Promise<void> {
    try {
      const message = await this._onOpenRun(run);
      this.showMessage(message);
    } catch (reason) {
      this.showMessage(String(reason));
    }
  }

  private _section(
    key: string,
    title: string,
    extra?: HTMLElement
  ): { details: HTMLElement; body: HTMLElement; summary: HTMLElement } {
    const summary = h(
      'summary',
      { class: 'jp-llmbench-section-title' },
      h('span', {}, title)
    );
    const body = h('div', { class: 'jp-llmbench-section-content' });
    const details = h(
      'details',
      { class: 'jp-llmbench-section', 'data-section': key, open: '' },
      summary
    );
    if (extra) {
      details.appendChild(
        h('div', { class: 'jp-llmbench-section-tools' }, extra)
      );
    }
    details.appendChild(body);
    return { details, body, summary };
  }

  private _build(): void {
    const trans = this._trans;
    const refresh = h(
      'button',
      {
        class: 'jp-mod-styled jp-llmbench-button jp-llmbench-refresh',
        type: 'button',
        title: trans.__('Refresh'),
        'data-testid': 'llmbench-panel-refresh'
      },
      trans.__('Refresh')
    );
    refresh.addEventListener('click', () => this._onRefresh());
    const header = h(
      'div',
      { class: 'jp-llmbench-header' },
      h('div', { class: 'jp-llmbench-title' }, 'llmbench'),
      refresh
    );
    this._status = h('div', {
      class: 'jp-llmbench-status',
      'data-testid': 'llmbench-panel-status'
    });
    this._message = h('div', {
      class: 'jp-llmbench-message',
      role: 'status',
      'data-testid': 'llmbench-panel-message'
    });
    this._message.hidden = true;
    this._unreachable = h('div', { class: 'jp-llmbench-unreachable-slot' });

    const jobs = this._section('jobs', trans.__('Jobs'));
    this._jobsCount = h('span', { class: 'jp-llmbench-count' });
    jobs.summary.appendChild(this._jobsCount);
    this._jobs = jobs.body;
    const runs = this._section('runs', trans.__('Recent runs'));
    this._runs = runs.body;
    this._select = renderLeaderboardSelect(
      this.model.leaderboardBy,
      trans,
      (by: LeaderboardBy) => {
        void this.model.setLeaderboardBy(by);
      }
    );
    const byLabel = h(
      'label',
      { class: 'jp-llmbench-by' },
      trans.__('by'),
      ' ',
      this._select
    );
    const leaderboard = this._section(
      'leaderboard',
      trans.__('Leaderboard'),
      byLabel
    );
    this._leaderboard = leaderboard.body;
    const experiments = this._section('experiments', trans.__('Experiments'));
    this._experiments = experiments.body;
    const schedules = this._section('schedules', trans.__('Schedules'));
    this._schedules = schedules.body;

    this._sections = h(
      'div',
      { class: 'jp-llmbench-sections' },
      jobs.details,
      runs.details,
      leaderboard.details,
      experiments.details,
      schedules.details
    );
    this.node.append(
      header,
      this._status,
      this._message,
      this._unreachable,
      this._sections
    );
  }

  private _trans: TranslationBundle;
  private _shown = false;
  private _painted = false;
  private _onOpenRun: ILlmbenchPanelOptions['onOpenRun'];
  private _onRefresh: () => void;
  private _status!: HTMLElement;
  private _message!: HTMLElement;
  private _unreachable!: HTMLElement;
  private _sections!: HTMLElement;
  private _jobs!: HTMLElement;
  private _jobsCount!: HTMLElement;
  private _runs!: HTMLElement;
  private _select!: HTMLSelectElement;
  private _leaderboard!: HTMLElement;
  private _experiments!: HTMLElement;
  private _schedules!: HTMLElement;
}
