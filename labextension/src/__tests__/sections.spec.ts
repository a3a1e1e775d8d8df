import { nullTranslator } from '@jupyterlab/translation';

import { IApiError } from '../api';

import { ISection } from '../model';

import { renderJobs, renderRuns } from '../render';

import {
  renderExperiments,
  renderLeaderboard,
  renderSchedules
} from '../render_tables';

import { job, run } from './fakeserver';

const trans = nullTranslator.load('llmbench_jupyter');

const boom: IApiError = {
  ok: false,
  status: 500,
  error: 'boom',
  hint: null,
  unreachable: false
};

const handlers = {
  onCancel: jest.fn(),
  isCancelling: () => false,
  cancelError: () => null
};

/** Each section: how it renders, one row of its data, and its row's test id. */
const sections: [
  string,
  (section: ISection<any[]>, rows: number) => HTMLElement,
  () => unknown,
  string
][] = [
  [
    'jobs',
    (s, n) => renderJobs(s, trans, handlers, n),
    () => job(),
    'llmbench-panel-job'
  ],
  [
    'runs',
    (s, n) => renderRuns(s, trans, () => undefined, n),
    () => run(),
    'llmbench-panel-run'
  ],
  [
    'leaderboard',
    (s, n) => renderLeaderboard(s, trans, n),
    () => ({
      rank: 1,
      provider: 'local-sim',
      model: 'sim-fast',
      context_tier: null,
      ttft_ms_p50: 12,
      decode_tps_p50: 80,
      tpot_ms_p50: 12.5,
      cost_per_1k_output_usd: null,
      success_rate: 1,
      n_runs: 2,
      requests: 10
    }),
    'llmbench-panel-leaderboard-row'
  ],
  [
    'experiments',
    (s, n) => renderExperiments(s, trans, n),
    () => ({
      name: 'prompts',
      description: null,
      runs: 3,
      studies: 0,
      baseline: 'r1',
      updated_at: '2026-12-01T10:00:00Z'
    }),
    'llmbench-panel-experiment'
  ],
  [
    'schedules',
    (s, n) => renderSchedules(s, trans, n),
    () => ({
      name: 'nightly',
      kind: 'bench',
      cron: '0 6 * * *',
      timezone: 'UTC',
      enabled: true,
      next_due_at: '2026-12-05T06:00:00Z',
      last_status: 'done'
    }),
    'llmbench-panel-schedule'
  ]
];

function ids(root: Element, testid: string): Element[] {
  return Array.from(root.querySelectorAll(`[data-testid="${testid}"]`));
}

describe.each(sections)('the %s section', (_name, render, item, rowId) => {
  it('says Loading… before its first answer', () => {
    const body = render({ data: null, error: null, source: null }, 5);
    expect(ids(body, 'llmbench-panel-empty')[0].textContent).toBe('Loading…');
    expect(ids(body, rowId)).toHaveLength(0);
  });

  it('shows the error alone when the first answer failed', () => {
    const body = render({ data: null, error: boom, source: null }, 5);
    expect(ids(body, 'llmbench-panel-error')).toHaveLength(1);
    expect(ids(body, 'llmbench-panel-empty')).toHaveLength(0);
  });

  it('says what to do when it has no rows', () => {
    const body = render({ data: [], error: null, source: null }, 5);
    const empty = ids(body, 'llmbench-panel-empty');
    expect(empty).toHaveLength(1);
    expect(empty[0].textContent).not.toBe('Loading…');
    expect(empty[0].textContent).toMatch(/lj\.|finished/);
  });

  it('keeps its last rows under a later error, at most rowsShown of them', () => {
    const data = [item(), item(), item()];
    const body = render({ data, error: boom, source: null }, 2);
    expect(ids(body, 'llmbench-panel-error')).toHaveLength(1);
    expect(ids(body, rowId)).toHaveLength(2);
    const error = ids(body, 'llmbench-panel-error')[0];
    const first = ids(body, rowId)[0];
    // the error comes first, above the stale rows
    expect(
      error.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING
    ).toBeTruthy();
  });
});
