/**
 * DOM for the panel's table-like sections: the leaderboard (with its "by" selector),
 * experiments and schedules. Text is always set through `textContent`.
 */

import { TranslationBundle } from '@jupyterlab/translation';

import {
  IExperiment,
  ILeaderboardRow,
  ISchedule,
  LEADERBOARD_ORDERS,
  LeaderboardBy
} from './api';

import {
  formatFraction,
  formatMs,
  formatTime,
  formatTps,
  formatUsd
} from './format';

import { ISection } from './model';

import { h, renderSectionList } from './render';

export function leaderboardLabel(
  by: LeaderboardBy,
  trans: TranslationBundle
): string {
  switch (by) {
    case 'decode_tps':
      return trans.__('decode speed');
    case 'ttft_ms':
      return trans.__('TTFT');
    case 'tpot_ms':
      return trans.__('TPOT');
    case 'cost':
      return trans.__('cost');
    case 'success_rate':
      return trans.__('success rate');
  }
}

/** The "by" selector of the leaderboard. */
export function renderLeaderboardSelect(
  by: LeaderboardBy,
  trans: TranslationBundle,
  onChange: (by: LeaderboardBy) => void
): HTMLSelectElement {
  const select = h('select', {
    class: 'jp-llmbench-select',
    'aria-label': trans.__('Rank the leaderboard by'),
    'data-testid': 'llmbench-panel-leaderboard-by'
  }) as HTMLSelectElement;
  for (const order of LEADERBOARD_ORDERS) {
    const option = h(
      'option',
      { value: order },
      leaderboardLabel(order, trans)
    ) as HTMLOptionElement;
    option.selected = order === by;
    select.appendChild(option);
  }
  select.addEventListener('change', () =>
    onChange(select.value as LeaderboardBy)
  );
  return select;
}

function leaderboardFigures(
  row: ILeaderboardRow,
  trans: TranslationBundle
): string[] {
  return [
    trans.__('TTFT %1', formatMs(row.ttft_ms_p50)),
    formatTps(row.decode_tps_p50),
    trans.__('TPOT %1', formatMs(row.tpot_ms_p50)),
    trans.__('%1/1k out', formatUsd(row.cost_per_1k_output_usd)),
    trans.__('ok %1', formatFraction(row.success_rate))
  ];
}

function leaderboardRow(
  row: ILeaderboardRow,
  trans: TranslationBundle
): HTMLElement {
  const name = `${row.provider}/${row.model}`;
  return h(
    'li',
    {
      class: 'jp-llmbench-row jp-llmbench-leaderboard-row',
      'data-testid': 'llmbench-panel-leaderboard-row'
    },
    h(
      'div',
      { class: 'jp-llmbench-row-head' },
      h('span', { class: 'jp-llmbench-rank' }, String(row.rank)),
      h('span', { class: 'jp-llmbench-name', title: name }, name),
      row.context_tier
        ? h('span', { class: 'jp-llmbench-tag' }, row.context_tier)
        : null
    ),
    h(
      'div',
      { class: 'jp-llmbench-row-figures' },
      leaderboardFigures(row, trans).join(' · ')
    ),
    row.n_runs !== null && row.n_runs !== undefined
      ? h(
          'div',
          { class: 'jp-llmbench-row-meta' },
          trans._n('%1 run', '%1 runs', row.n_runs) +
            (row.requests !== null && row.requests !== undefined
              ? ' · ' + trans._n('%1 request', '%1 requests', row.requests)
              : '')
        )
      : null
  );
}

export function renderLeaderboard(
  section: ISection<ILeaderboardRow[]>,
  trans: TranslationBundle,
  rowsShown: number
): HTMLElement {
  const body = renderSectionList(section, trans, {
    empty: trans.__(
      'No leaderboard yet: it ranks the targets of finished bench runs.'
    ),
    tag: 'ol',
    rowsShown,
    row: row => leaderboardRow(row, trans)
  });
  if (section.data?.length && section.source) {
    body.appendChild(h('div', { class: 'jp-llmbench-source' }, section.source));
  }
  return body;
}

function experimentRow(
  item: IExperiment,
  trans: TranslationBundle
): HTMLElement {
  const meta = [
    trans._n('%1 run', '%1 runs', item.runs),
    item.studies ? trans._n('%1 search', '%1 searches', item.studies) : '',
    item.baseline ? trans.__('baseline %1', item.baseline) : '',
    formatTime(item.updated_at)
  ]
    .filter(Boolean)
    .join(' · ');
  return h(
    'li',
    {
      class: 'jp-llmbench-row',
      title: item.description ?? '',
      'data-testid': 'llmbench-panel-experiment'
    },
    h(
      'div',
      { class: 'jp-llmbench-row-head' },
      h('span', { class: 'jp-llmbench-name' }, item.name)
    ),
    h('div', { class: 'jp-llmbench-row-meta' }, meta)
  );
}

export function renderExperiments(
  section: ISection<IExperiment[]>,
  trans: TranslationBundle,
  rowsShown: number
): HTMLElement {
  return renderSectionList(section, trans, {
    empty: trans.__(
      'No experiments: group runs under a baseline with lj.experiment().'
    ),
    listClass: 'jp-llmbench-list jp-llmbench-compact',
    rowsShown,
    row: item => experimentRow(item, trans)
  });
}

function scheduleRow(item: ISchedule, trans: TranslationBundle): HTMLElement {
  const meta = [
    `${item.cron}${item.timezone ? ` (${item.timezone})` : ''}`,
    item.enabled && item.next_due_at
      ? trans.__('next %1', formatTime(item.next_due_at))
      : '',
    item.last_status ? trans.__('last %1', item.last_status) : ''
  ]
    .filter(Boolean)
    .join(' · ');
  return h(
    'li',
    {
      class: `jp-llmbench-row${item.enabled ? '' : ' jp-llmbench-disabled'}`,
      'data-testid': 'llmbench-panel-schedule'
    },
    h(
      'div',
      { class: 'jp-llmbench-row-head' },
      h('span', { class: 'jp-llmbench-name' }, item.name),
      h('span', { class: 'jp-llmbench-tag' }, item.kind),
      item.enabled
        ? null
        : h('span', { class: 'jp-llmbench-state' }, trans.__('paused'))
    ),
    h('div', { class: 'jp-llmbench-row-meta' }, meta)
  );
}

export function renderSchedules(
  section: ISection<ISchedule[]>,
  trans: TranslationBundle,
  rowsShown: number
): HTMLElement {
  return renderSectionList(section, trans, {
    empty: trans.__(
      'No schedules: run a bench or eval on a cron with lj.schedule().'
    ),
    listClass: 'jp-llmbench-list jp-llmbench-compact',
    rowsShown,
    row: item => scheduleRow(item, trans)
  });
}
