/**
 * DOM for the panel's sections, built from the model's state. Text is always
 * set through `textContent` (names come from users).
 */

import { TranslationBundle } from '@jupyterlab/translation';

import { IApiError, IJob, IRun, isActive } from './api';

import {
  formatFraction,
  formatMs,
  formatTime,
  formatTps,
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

/** How one list section shows its rows. */
export interface IListSection<T> {
  /** The line shown when the server answered with no rows. */
  empty: string;
  /** `ol` when the order is a ranking. */
  tag?: 'ul' | 'ol';
  listClass?: string;
  rowsShown: number;
  row: (item: T) => HTMLElement;
}

/**
 * A section's body: its error (kept above stale rows), "Loading…" before the first
 * answer, the empty-state line, or the first `rowsShown` rows. Every section goes
 * through here, so they all show the same states.
 */
export function renderSectionList<T>(
  section: ISection<T[]>,
  trans: TranslationBundle,
  how: IListSection<T>
): HTMLElement {
  const body = h('div', { class: 'jp-llmbench-section-body' });
  if (section.error) {
    body.appendChild(renderError(section.error, trans));
  }
  const items = section.data;
  if (items === null) {
    if (!section.error) {
      body.appendChild(renderEmpty(trans.__('Loading…')));
    }
    return body;
  }
  if (items.length === 0) {
    body.appendChild(renderEmpty(how.empty));
    return body;
  }
  const list = h(how.tag ?? 'ul', {
    class: how.listClass ?? 'jp-llmbench-list'
  });
  for (const item of items.slice(0, how.rowsShown)) {
    list.appendChild(how.row(item));
  }
  body.appendChild(list);
  return body;
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
  return renderSectionList(section, trans, {
    empty: trans.__('No jobs yet: run lj.bench() in a notebook.'),
    rowsShown,
    row: job => renderJob(job, trans, handlers)
  });
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
  return renderSectionList(section, trans, {
    empty: trans.__(
      'No runs yet: a finished lj.bench() or lj.evaluate() lands here, with the runs others publish.'
    ),
    rowsShown,
    row: run => renderRun(run, trans, onOpen)
  });
}
