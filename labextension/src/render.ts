/**
 * DOM for the panel's sections, built from the model's state. Text is always
 * set through `textContent` (names come from users).
 */

import { TranslationBundle } from '@jupyterlab/translation';

import {
  IApiError,
  IExperiment,
  IJob,
  ILeaderboardRow,
  IRun,
  ISchedule,
  LEADERBOARD_ORDERS,
  LeaderboardBy,
  isActive
} from './api';

import {
  formatFraction,
  formatMs,
  formatTime,
  formatTps,
  formatUsd,
  progressFraction
} from './format';

import { ISection } from './model';

type Child = Node | string | null | undefined | false;

/** Create an element with attributes and children. */
export function h(
  tag: string,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) {
      if (key === 'class') {
        node.className = value;
      } else {
        node.setAttribute(key, value);
      }
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.appendChild(
      typeof child === 'string' ? document.createTextNode(child) : child
    );
  }
  return node;
}

/** An empty-state line. */
export function renderEmpty(text: string): HTMLElement {
  return h(
    'div',
    { class: 'jp-llmbench-empty', 'data-testid': 'llmbench-panel-empty' },
    text
  );
}

/** An error with its hint, and a Retry button when `onRetry` is given. */
export function renderError(
  error: IApiError,
  trans: TranslationBundle,
  onRetry?: () => void
): HTMLElement {
  const node = h(
    'div',
    {
      class: 'jp-llmbench-error',
      role: 'alert',
      'data-testid': 'llmbench-panel-error',
      'data-status': String(error.status)
    },
    h('div', { class: 'jp-llmbench-error-message' }, error.error),
    error.hint ? h('div', { class: 'jp-llmbench-hint' }, error.hint) : null
  );
  if (onRetry) {
    const button = h(
      'button',
      {
        class: 'jp-mod-styled jp-llmbench-button',
        type: 'button',
        'data-testid': 'llmbench-panel-retry'
      },
      trans.__('Retry')
    );
    button.addEventListener('click', () => onRetry());
    node.appendChild(button);
  }
  return node;
}

/** The whole-panel state when the server answers 503: the store is down. */
export function renderUnreachable(
  error: IApiError,
  trans: TranslationBundle,
  onRetry: () => void
): HTMLElement {
  const node = renderError(
    {
      ...error,
      hint:
        error.hint ??
        trans.__(
          'Check the store URL in your llmbench configuration (or ask your hub admin), then retry.'
        )
    },
    trans,
    onRetry
  );
  node.classList.add('jp-llmbench-unreachable');
  node.setAttribute('data-testid', 'llmbench-panel-unreachable');
  node.insertBefore(
    h(
      'div',
      { class: 'jp-llmbench-error-title' },
      trans.__('Store unreachable')
    ),
    node.firstChild
  );
  return node;
}

export interface IJobHandlers {
  onCancel: (jobId: string) => void;
  isCancelling: (job: IJob) => boolean;
  cancelError: (jobId: string) => string | null;
}

function stateLabel(state: string, trans: TranslationBundle): string {
  switch (state) {
    case 'queued':
      return trans.__('queued');
    case 'running':
      return trans.__('running');
    case 'done':
      return trans.__('done');
    case 'failed':
      return trans.__('failed');
    case 'cancelled':
      return trans.__('cancelled');
    case 'interrupted':
      return trans.__('interrupted');
    default:
      return state;
  }
}

/** One job: name, kind, state, progress bar, Cancel button. */
export function renderJob(
  job: IJob,
  trans: TranslationBundle,
  handlers: IJobHandlers
): HTMLElement {
  const active = isActive(job.state);
  const cancelling =
    active && (job.cancel_requested || handlers.isCancelling(job));
  const fraction = progressFraction(job.done, job.total);
  const row = h('li', {
    class: `jp-llmbench-row jp-llmbench-job jp-llmbench-state-${job.state}`,
    'data-testid': 'llmbench-panel-job',
    'data-job-id': job.job_id,
    'data-state': job.state,
    'data-cancelling': cancelling ? 'true' : undefined
  });
  const head = h(
    'div',
    { class: 'jp-llmbench-row-head' },
    h(
      'span',
      { class: 'jp-llmbench-name', title: job.job_id },
      job.name || job.job_id
    ),
    h('span', { class: 'jp-llmbench-tag' }, job.kind),
    h(
      'span',
      { class: 'jp-llmbench-state', 'data-testid': 'llmbench-panel-job-state' },
      cancelling ? trans.__('cancelling…') : stateLabel(job.state, trans)
    )
  );
  row.appendChild(head);

  const counts =
    job.done !== null && job.total !== null
      ? `${job.done}/${job.total}`
      : job.done !== null
        ? String(job.done)
        : '';
  const bar = h('div', {
    class: 'jp-llmbench-progress',
    role: 'progressbar',
    'aria-valuemin': '0',
    'aria-valuemax': job.total !== null ? String(job.total) : undefined,
    'aria-valuenow': job.done !== null ? String(job.done) : undefined,
    'aria-label': trans.__('Progress of %1', job.name || job.job_id),
    'data-testid': 'llmbench-panel-progress'
  });
  const fill = h('div', { class: 'jp-llmbench-progress-fill' });
  if (fraction !== null) {
    fill.style.width = `${(fraction * 100).toFixed(1)}%`;
  } else if (active) {
    bar.classList.add('jp-llmbench-progress-indeterminate');
  }
  bar.appendChild(fill);
  const line = h(
    'div',
    { class: 'jp-llmbench-row-line' },
    bar,
    h(
      'span',
      { class: 'jp-llmbench-counts', 'data-testid': 'llmbench-panel-counts' },
      counts
    )
  );
  if (active && !cancelling) {
    const button = h(
      'button',
      {
        class: 'jp-mod-styled jp-llmbench-button jp-llmbench-cancel',
        type: 'button',
        title: trans.__('Cancel this job'),
        'data-testid': 'llmbench-panel-cancel'
      },
      trans.__('Cancel')
    );
    button.addEventListener('click', event => {
      event.stopPropagation();
      (button as HTMLButtonElement).disabled = true;
      handlers.onCancel(job.job_id);
    });
    line.appendChild(button);
  }
  row.appendChild(line);
  const cancelError = handlers.cancelError(job.job_id);
  if (job.error || cancelError) {
    row.appendChild(
      h(
        'div',
        { class: 'jp-llmbench-row-error' },
        cancelError ?? job.error ?? ''
      )
    );
  }
  if (job.run_id && !active) {
    row.appendChild(
      h(
        'div',
        { class: 'jp-llmbench-row-meta' },
        trans.__('run %1', job.run_id)
      )
    );
  }
  return row;
}

/** The Jobs section's body: the rows, an empty state or an error. */
export function renderJobs(
  section: ISection<IJob[]>,
  trans: TranslationBundle,
  handlers: IJobHandlers,
  rowsShown: number
): HTMLElement {
  const body = h('div', { class: 'jp-llmbench-section-body' });
  if (section.error) {
    body.appendChild(renderError(section.error, trans));
  }
  const jobs = section.data;
  if (jobs === null) {
    if (!section.error) {
      body.appendChild(renderEmpty(trans.__('Loading…')));
    }
    return body;
  }
  if (jobs.length === 0) {
    body.appendChild(
      renderEmpty(trans.__('No jobs yet: run lj.bench() in a notebook.'))
    );
    return body;
  }
  const list = h('ul', { class: 'jp-llmbench-list' });
  for (const job of jobs.slice(0, rowsShown)) {
    list.appendChild(renderJob(job, trans, handlers));
  }
  body.appendChild(list);
  return body;
}

/** The figures shown for a run: TTFT and decode speed, or the pass rate. */
export function runFigures(run: IRun, trans: TranslationBundle): string[] {
  const figures: string[] = [];
  if (run.kind === 'eval') {
    if (run.pass_rate !== null && run.pass_rate !== undefined) {
      figures.push(trans.__('pass %1', formatFraction(run.pass_rate)));
    }
  } else {
    if (run.ttft_ms_p50 !== null && run.ttft_ms_p50 !== undefined) {
      figures.push(trans.__('TTFT p50 %1', formatMs(run.ttft_ms_p50)));
    }
    if (run.decode_tps_p50 !== null && run.decode_tps_p50 !== undefined) {
      figures.push(formatTps(run.decode_tps_p50));
    }
  }
  if (run.requests !== null && run.requests !== undefined) {
    figures.push(trans._n('%1 request', '%1 requests', run.requests));
  }
  if (run.errors) {
    figures.push(trans._n('%1 error', '%1 errors', run.errors));
  }
  return figures;
}

export function renderRun(
  run: IRun,
  trans: TranslationBundle,
  onOpen: (run: IRun) => void
): HTMLElement {
  const row = h('li', {
    class: 'jp-llmbench-row jp-llmbench-run jp-llmbench-clickable',
    role: 'button',
    tabindex: '0',
    title: trans.__('Insert a cell that loads run %1', run.run_id),
    'data-testid': 'llmbench-panel-run',
    'data-run-id': run.run_id,
    'data-kind': run.kind
  });
  row.appendChild(
    h(
      'div',
      { class: 'jp-llmbench-row-head' },
      h('span', { class: 'jp-llmbench-name' }, run.name || run.run_id),
      h('span', { class: 'jp-llmbench-tag' }, run.kind),
      run.published
        ? h(
            'span',
            {
              class: 'jp-llmbench-tag jp-llmbench-published',
              title: run.mine
                ? trans.__('You published this run')
                : trans.__('Published by %1', run.owner),
              'data-testid': 'llmbench-panel-published'
            },
            trans.__('published')
          )
        : null,
      h('span', { class: 'jp-llmbench-state' }, run.status)
    )
  );
  const meta: string[] = runFigures(run, trans);
  row.appendChild(
    h('div', { class: 'jp-llmbench-row-figures' }, meta.join(' · '))
  );
  const where = [
    run.targets,
    run.mine ? '' : run.owner,
    formatTime(run.created_at)
  ]
    .filter(Boolean)
    .join(' · ');
  if (where) {
    row.appendChild(h('div', { class: 'jp-llmbench-row-meta' }, where));
  }
  row.addEventListener('click', () => onOpen(run));
  row.addEventListener('keydown', event => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onOpen(run);
    }
  });
  return row;
}

export function renderRuns(
  section: ISection<IRun[]>,
  trans: TranslationBundle,
  onOpen: (run: IRun) => void,
  rowsShown: number
): HTMLElement {
  const body = h('div', { class: 'jp-llmbench-section-body' });
  if (section.error) {
    body.appendChild(renderError(section.error, trans));
  }
  const runs = section.data;
  if (runs === null) {
    if (!section.error) {
      body.appendChild(renderEmpty(trans.__('Loading…')));
    }
    return body;
  }
  if (runs.length === 0) {
    body.appendChild(
      renderEmpty(
        trans.__(
          'No runs yet: a finished lj.bench() or lj.evaluate() lands here, with the runs others publish.'
        )
      )
    );
    return body;
  }
  const list = h('ul', { class: 'jp-llmbench-list' });
  for (const run of runs.slice(0, rowsShown)) {
    list.appendChild(renderRun(run, trans, onOpen));
  }
  body.appendChild(list);
  return body;
}

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

export function renderLeaderboard(
  section: ISection<ILeaderboardRow[]>,
  trans: TranslationBundle,
  rowsShown: number
): HTMLElement {
  const body = h('div', { class: 'jp-llmbench-section-body' });
  if (section.error) {
    body.appendChild(renderError(section.error, trans));
  }
  const rows = section.data;
  if (rows === null) {
    if (!section.error) {
      body.appendChild(renderEmpty(trans.__('Loading…')));
    }
    return body;
  }
  if (rows.length === 0) {
    body.appendChild(
      renderEmpty(
        trans.__(
          'No leaderboard yet: it ranks the targets of finished bench runs.'
        )
      )
    );
    return body;
  }
  const list = h('ol', { class: 'jp-llmbench-list' });
  for (const row of rows.slice(0, rowsShown)) {
    const name = `${row.provider}/${row.model}`;
    list.appendChild(
      h(
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
      )
    );
  }
  body.appendChild(list);
  if (section.source) {
    body.appendChild(h('div', { class: 'jp-llmbench-source' }, section.source));
  }
  return body;
}

export function renderExperiments(
  section: ISection<IExperiment[]>,
  trans: TranslationBundle,
  rowsShown: number
): HTMLElement {
  const body = h('div', { class: 'jp-llmbench-section-body' });
  if (section.error) {
    body.appendChild(renderError(section.error, trans));
  }
  const items = section.data;
  if (items === null) {
    return body;
  }
  if (items.length === 0) {
    body.appendChild(
      renderEmpty(
        trans.__(
          'No experiments: group runs under a baseline with lj.experiment().'
        )
      )
    );
    return body;
  }
  const list = h('ul', { class: 'jp-llmbench-list jp-llmbench-compact' });
  for (const item of items.slice(0, rowsShown)) {
    const meta = [
      trans._n('%1 run', '%1 runs', item.runs),
      item.studies ? trans._n('%1 search', '%1 searches', item.studies) : '',
      item.baseline ? trans.__('baseline %1', item.baseline) : '',
      formatTime(item.updated_at)
    ]
      .filter(Boolean)
      .join(' · ');
    list.appendChild(
      h(
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
      )
    );
  }
  body.appendChild(list);
  return body;
}

export function renderSchedules(
  section: ISection<ISchedule[]>,
  trans: TranslationBundle,
  rowsShown: number
): HTMLElement {
  const body = h('div', { class: 'jp-llmbench-section-body' });
  if (section.error) {
    body.appendChild(renderError(section.error, trans));
  }
  const items = section.data;
  if (items === null) {
    return body;
  }
  if (items.length === 0) {
    body.appendChild(
      renderEmpty(
        trans.__(
          'No schedules: run a bench or eval on a cron with lj.schedule().'
        )
      )
    );
    return body;
  }
  const list = h('ul', { class: 'jp-llmbench-list jp-llmbench-compact' });
  for (const item of items.slice(0, rowsShown)) {
    const meta = [
      `${item.cron}${item.timezone ? ` (${item.timezone})` : ''}`,
      item.enabled && item.next_due_at
        ? trans.__('next %1', formatTime(item.next_due_at))
        : '',
      item.last_status ? trans.__('last %1', item.last_status) : ''
    ]
      .filter(Boolean)
      .join(' · ');
    list.appendChild(
      h(
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
      )
    );
  }
  body.appendChild(list);
  return body;
}
