import { nullTranslator } from '@jupyterlab/translation';

import { IRun } from '../api';

import { loadRunCode } from '../format';

import { PanelModel } from '../model';

import { LlmbenchPanel } from '../panel';

import {
  renderError,
  renderJob,
  renderJobs,
  renderRun,
  renderRuns
} from '../render';

import { fakeServer, flush, healthyRoutes, job, run } from './fakeserver';

const trans = nullTranslator.load('llmbench_jupyter');

const handlers = {
  onCancel: jest.fn(),
  isCancelling: () => false,
  cancelError: () => null
};

function q<T extends Element = HTMLElement>(
  root: Element,
  testid: string
): T[] {
  return Array.from(
    root.querySelectorAll<T>(`[data-testid="${testid}"]`) as unknown as T[]
  );
}

describe('job rows', () => {
  it('show state, progress and a Cancel button for a running job', () => {
    const row = renderJob(
      job({ state: 'running', done: 5, total: 20 }),
      trans,
      handlers
    );
    expect(row.dataset.testid).toBe('llmbench-panel-job');
    expect(row.dataset.jobId).toBe('job-1');
    expect(row.dataset.state).toBe('running');
    expect(q(row, 'llmbench-panel-job-state')[0].textContent).toBe('running');
    expect(q(row, 'llmbench-panel-counts')[0].textContent).toBe('5/20');
    const bar = q(row, 'llmbench-panel-progress')[0];
    expect(bar.getAttribute('aria-valuenow')).toBe('5');
    expect(bar.getAttribute('aria-valuemax')).toBe('20');
    expect((bar.firstChild as HTMLElement).style.width).toBe('25.0%');
    expect(q(row, 'llmbench-panel-cancel')).toHaveLength(1);
  });

  it('offer Cancel for queued jobs too, with an indeterminate bar when total is unknown', () => {
    const row = renderJob(
      job({ state: 'queued', done: null, total: null }),
      trans,
      handlers
    );
    expect(q(row, 'llmbench-panel-cancel')).toHaveLength(1);
    expect(q(row, 'llmbench-panel-progress')[0].classList).toContain(
      'jp-llmbench-progress-indeterminate'
    );
    expect(q(row, 'llmbench-panel-counts')[0].textContent).toBe('');
  });

  it.each(['done', 'failed', 'cancelled', 'interrupted'] as const)(
    'offer no Cancel for a %s job',
    state => {
      const row = renderJob(
        job({ state, done: 10, total: 10 }),
        trans,
        handlers
      );
      expect(row.dataset.state).toBe(state);
      expect(q(row, 'llmbench-panel-cancel')).toHaveLength(0);
      expect(q(row, 'llmbench-panel-job-state')[0].textContent).toBe(state);
    }
  );

  it('show "cancelling…" once a cancel is requested', () => {
    const row = renderJob(job({ cancel_requested: true }), trans, handlers);
    expect(q(row, 'llmbench-panel-job-state')[0].textContent).toBe(
      'cancelling…'
    );
    expect(q(row, 'llmbench-panel-cancel')).toHaveLength(0);
    expect(row.dataset.cancelling).toBe('true');
  });

  it('show a job error', () => {
    const row = renderJob(
      job({ state: 'failed', error: 'HTTP 401 from provider' }),
      trans,
      handlers
    );
    expect(row.textContent).toContain('HTTP 401 from provider');
  });

  it('call onCancel with the job id', () => {
    const onCancel = jest.fn();
    const row = renderJob(job({ job_id: 'j-9' }), trans, {
      ...handlers,
      onCancel
    });
    q<HTMLButtonElement>(row, 'llmbench-panel-cancel')[0].click();
    expect(onCancel).toHaveBeenCalledWith('j-9');
  });

  it('say what to do when there are no jobs', () => {
    const body = renderJobs(
      { data: [], error: null, source: null },
      trans,
      handlers,
      10
    );
    expect(q(body, 'llmbench-panel-empty')[0].textContent).toBe(
      'No jobs yet: run lj.bench() in a notebook.'
    );
  });

  it('show at most rowsShown rows', () => {
    const jobs = [1, 2, 3, 4].map(i => job({ job_id: `j${i}` }));
    const body = renderJobs(
      { data: jobs, error: null, source: null },
      trans,
      handlers,
      2
    );
    expect(q(body, 'llmbench-panel-job').map(r => r.dataset.jobId)).toEqual([
      'j1',
      'j2'
    ]);
  });

  it('show an error with its hint, keeping the last rows', () => {
    const body = renderJobs(
      {
        data: [job()],
        error: {
          ok: false,
          status: 500,
          error: 'boom',
          hint: 'look at the server log',
          unreachable: false
        },
        source: null
      },
      trans,
      handlers,
      10
    );
    const error = q(body, 'llmbench-panel-error')[0];
    expect(error.textContent).toContain('boom');
    expect(error.textContent).toContain('look at the server log');
    expect(q(body, 'llmbench-panel-job')).toHaveLength(1);
  });
});

describe('run rows', () => {
  it('show key figures of a bench run', () => {
    const row = renderRun(run(), trans, jest.fn());
    expect(row.dataset.testid).toBe('llmbench-panel-run');
    expect(row.dataset.runId).toBe('run-abc');
    expect(row.textContent).toContain('nightly latency');
    expect(row.textContent).toContain('TTFT p50 212 ms');
    expect(row.textContent).toContain('87.3 tok/s');
    expect(row.textContent).toContain('40 requests');
    expect(q(row, 'llmbench-panel-published')).toHaveLength(0);
  });

  it('show the pass rate of an eval run and a published marker', () => {
    const row = renderRun(
      run({
        kind: 'eval',
        pass_rate: 0.875,
        published: true,
        mine: false,
        owner: 'bob'
      }),
      trans,
      jest.fn()
    );
    expect(row.textContent).toContain('pass 87.5%');
    expect(row.textContent).not.toContain('TTFT');
    const marker = q(row, 'llmbench-panel-published')[0];
    expect(marker.textContent).toBe('published');
    expect(marker.title).toBe('Published by bob');
  });

  it('call onOpen on click and on Enter', () => {
    const onOpen = jest.fn();
    const row = renderRun(run(), trans, onOpen);
    row.click();
    row.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(onOpen).toHaveBeenCalledTimes(2);
    expect(onOpen.mock.calls[0][0].run_id).toBe('run-abc');
  });

  it('say what to do when there are no runs', () => {
    const body = renderRuns(
      { data: [], error: null, source: null },
      trans,
      jest.fn(),
      10
    );
    expect(q(body, 'llmbench-panel-empty')[0].textContent).toMatch(
      /No runs yet/
    );
  });

  it('print names as text, never as HTML', () => {
    const row = renderRun(
      run({ name: '<img src=x onerror=alert(1)>' }),
      trans,
      jest.fn()
    );
    expect(row.querySelector('img')).toBeNull();
    expect(row.textContent).toContain('<img src=x onerror=alert(1)>');
  });
});

describe('renderError', () => {
  it('offers Retry when asked', () => {
    const onRetry = jest.fn();
    const node = renderError(
      {
        ok: false,
        status: 0,
        error: 'offline',
        hint: null,
        unreachable: false
      },
      trans,
      onRetry
    );
    q<HTMLButtonElement>(node, 'llmbench-panel-retry')[0].click();
    expect(onRetry).toHaveBeenCalled();
  });
});

describe('loadRunCode', () => {
  it('is the import and lj.load of the run, quoted safely', () => {
    expect(loadRunCode('run-abc')).toBe(
      'import llmbench_jupyter as lj\nlj.load("run-abc")'
    );
    expect(loadRunCode('a"b\\c')).toBe(
      'import llmbench_jupyter as lj\nlj.load("a\\"b\\\\c")'
    );
  });
});

describe('LlmbenchPanel', () => {
  function makePanel(routes = healthyRoutes([job()], [run()])) {
    const server = fakeServer(routes);
    const model = new PanelModel({ api: server.api, rowsShown: 10 });
    const onOpenRun = jest.fn((_run: IRun): string | null => null);
    const onRefresh = jest.fn(() => void model.poll(true));
    const panel = new LlmbenchPanel({ model, onOpenRun, onRefresh });
    return { server, model, panel, onOpenRun, onRefresh };
  }

  it('renders the sections from the API', async () => {
    const { model, panel, server } = makePanel();
    expect(panel.node.dataset.testid).toBe('llmbench-panel');
    expect(panel.node.dataset.state).toBe('loading');
    const outcome = await model.poll(true);
    expect(outcome).toEqual({ changed: true, active: true, failed: false });
    panel.render();
    expect(panel.node.dataset.state).toBe('ready');
    expect(
      q(panel.node, 'llmbench-panel-job').map(r => r.dataset.state)
    ).toEqual(['running']);
    expect(
      q(panel.node, 'llmbench-panel-run').map(r => r.dataset.runId)
    ).toEqual(['run-abc']);
    expect(q(panel.node, 'llmbench-panel-leaderboard-row')).toHaveLength(1);
    expect(q(panel.node, 'llmbench-panel-status')[0].textContent).toContain(
      'alice'
    );
    expect(panel.node.textContent).toContain('No experiments');
    expect(panel.node.textContent).toContain('No schedules');
    expect(server.calls.map(c => c.path).sort()).toEqual(
      [
        'experiments',
        'jobs',
        'leaderboard',
        'runs',
        'schedules',
        'status'
      ].sort()
    );
    panel.dispose();
  });

  it('polls only jobs while nothing changes and the slow sections are fresh', async () => {
    const { model, server } = makePanel();
    await model.poll(true);
    server.calls.length = 0;
    const outcome = await model.poll(false);
    expect(server.calls.map(c => c.path)).toEqual(['jobs']);
    expect(outcome).toEqual({ changed: false, active: true, failed: false });
  });

  it('reloads runs when a job changes state', async () => {
    const routes = healthyRoutes([job()], []);
    const { model, server } = makePanel(routes);
    await model.poll(true);
    server.calls.length = 0;
    routes['GET jobs'] = [
      200,
      { jobs: [job({ state: 'done', done: 10, total: 10, run_id: 'run-new' })] }
    ];
    routes['GET runs'] = [
      200,
      { runs: [run({ run_id: 'run-new' })], source: 'store' }
    ];
    const outcome = await model.poll(false);
    expect(server.calls.map(c => c.path)).toContain('runs');
    expect(outcome.changed).toBe(true);
    expect(outcome.active).toBe(false);
    expect(model.runs.data?.map(r => r.run_id)).toEqual(['run-new']);
  });

  it('cancels a job: POST, "cancelling…" until the state changes', async () => {
    const routes = healthyRoutes([job({ job_id: 'j1' })], []);
    routes['POST jobs/j1/cancel'] = [
      202,
      { job_id: 'j1', cancel_requested: true }
    ];
    const { model, panel, server } = makePanel(routes);
    const activity = jest.fn();
    model.activity.connect(activity);
    await model.poll(true);
    panel.render();
    q<HTMLButtonElement>(panel.node, 'llmbench-panel-cancel')[0].click();
    await flush();
    panel.render();
    expect(
      server.calls.some(c => c.method === 'POST' && c.path === 'jobs/j1/cancel')
    ).toBe(true);
    expect(activity).toHaveBeenCalled();
    let row = q(panel.node, 'llmbench-panel-job')[0];
    expect(q(row, 'llmbench-panel-job-state')[0].textContent).toBe(
      'cancelling…'
    );
    expect(q(row, 'llmbench-panel-cancel')).toHaveLength(0);

    // Still running on the next poll: still cancelling.
    await model.poll(false);
    panel.render();
    row = q(panel.node, 'llmbench-panel-job')[0];
    expect(q(row, 'llmbench-panel-job-state')[0].textContent).toBe(
      'cancelling…'
    );

    routes['GET jobs'] = [
      200,
      {
        jobs: [
          job({ job_id: 'j1', state: 'cancelled', cancel_requested: true })
        ]
      }
    ];
    await model.poll(false);
    panel.render();
    row = q(panel.node, 'llmbench-panel-job')[0];
    expect(row.dataset.state).toBe('cancelled');
    expect(q(row, 'llmbench-panel-job-state')[0].textContent).toBe('cancelled');
    panel.dispose();
  });

  it('shows a refused cancel (409) on the row', async () => {
    const routes = healthyRoutes([job({ job_id: 'j1' })], []);
    routes['POST jobs/j1/cancel'] = [409, { error: 'job j1 already finished' }];
    const { model, panel } = makePanel(routes);
    await model.poll(true);
    await model.cancel('j1');
    panel.render();
    const row = q(panel.node, 'llmbench-panel-job')[0];
    expect(row.textContent).toContain('job j1 already finished');
    expect(q(row, 'llmbench-panel-cancel')).toHaveLength(1);
    panel.dispose();
  });

  it('shows "store unreachable" with Retry on a 503, and recovers', async () => {
    const routes = healthyRoutes([], []);
    const healthyStatus = routes['GET status'];
    routes['GET status'] = [
      503,
      {
        ok: false,
        error: 'could not connect to server',
        hint: 'Is the database up?'
      }
    ];
    const { model, panel, onRefresh, server } = makePanel(routes);
    const outcome = await model.poll(true);
    expect(outcome.failed).toBe(true);
    panel.render();
    expect(panel.node.dataset.state).toBe('unreachable');
    const box = q(panel.node, 'llmbench-panel-unreachable')[0];
    expect(box.textContent).toContain('Store unreachable');
    expect(box.textContent).toContain('could not connect to server');
    expect(box.textContent).toContain('Is the database up?');
    // the first load asks every section at once; the health check decides
    expect(server.calls.map(c => c.path)).toContain('status');

    routes['GET status'] = healthyStatus;
    q<HTMLButtonElement>(panel.node, 'llmbench-panel-retry')[0].click();
    expect(onRefresh).toHaveBeenCalled();
    await flush(10);
    panel.render();
    expect(panel.node.dataset.state).toBe('ready');
    expect(q(panel.node, 'llmbench-panel-unreachable')).toHaveLength(0);
    expect(panel.node.textContent).toContain(
      'No jobs yet: run lj.bench() in a notebook.'
    );
    panel.dispose();
  });

  it('shows a section error with its hint (API missing)', async () => {
    const { model, panel } = makePanel({});
    await model.poll(true);
    panel.render();
    const errors = q(panel.node, 'llmbench-panel-error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0].textContent).toContain('HTTP 404');
    expect(errors[0].textContent).toContain('jupyter server extension list');
    panel.dispose();
  });

  it('passes a clicked run to onOpenRun and shows its message', async () => {
    const { model, panel, onOpenRun } = makePanel();
    onOpenRun.mockImplementation(() => 'Open a notebook first');
    await model.poll(true);
    panel.render();
    q(panel.node, 'llmbench-panel-run')[0].click();
    await flush();
    expect(onOpenRun).toHaveBeenCalledTimes(1);
    expect(onOpenRun.mock.calls[0][0].run_id).toBe('run-abc');
    const message = q(panel.node, 'llmbench-panel-message')[0];
    expect(message.hidden).toBe(false);
    expect(message.textContent).toBe('Open a notebook first');
    panel.dispose();
  });

  it('reloads the leaderboard when "by" changes', async () => {
    const { model, panel, server } = makePanel();
    await model.poll(true);
    panel.render();
    server.calls.length = 0;
    const select = q<HTMLSelectElement>(
      panel.node,
      'llmbench-panel-leaderboard-by'
    )[0];
    select.value = 'ttft_ms';
    select.dispatchEvent(new Event('change'));
    await flush();
    expect(model.leaderboardBy).toBe('ttft_ms');
    expect(
      server.calls.map(c => new URL(c.url).searchParams.get('by'))
    ).toEqual(['ttft_ms']);
    panel.dispose();
  });
});
