/**
 * The first load: one round trip for every section, each painted as it comes,
 * so a slow leaderboard never holds back the jobs and runs.
 */

import { PanelModel } from '../model';

import { LlmbenchPanel } from '../panel';

import { fakeServer, flush, healthyRoutes, job, run } from './fakeserver';

function q(root: Element, testid: string): HTMLElement[] {
  return Array.from(
    root.querySelectorAll<HTMLElement>(`[data-testid="${testid}"]`)
  );
}

describe('the first load', () => {
  it('asks every section at once on the first load and shows jobs and runs before a slow leaderboard', async () => {
    const routes = healthyRoutes([job()], [run()]);
    const board = routes['GET leaderboard'];
    let answerBoard: () => void = () => undefined;
    routes['GET leaderboard'] = () =>
      new Promise(resolve => {
        answerBoard = () => resolve(board as [number, unknown]);
      });
    const server = fakeServer(routes);
    const model = new PanelModel({ api: server.api, rowsShown: 10 });
    const panel = new LlmbenchPanel({
      model,
      onOpenRun: () => null,
      onRefresh: () => undefined
    });
    const polled = model.poll();
    await flush(10);
    // all six asked before any reply was awaited: one round trip, not three
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
    expect(model.firstRowsReady).toBe(true);
    expect(model.loaded).toBe(false);
    panel.render();
    expect(panel.node.dataset.state).toBe('loading');
    expect(q(panel.node, 'llmbench-panel-job')).toHaveLength(1);
    expect(q(panel.node, 'llmbench-panel-run')).toHaveLength(1);
    expect(q(panel.node, 'llmbench-panel-leaderboard-row')).toHaveLength(0);
    answerBoard();
    await polled;
    panel.render();
    expect(panel.node.dataset.state).toBe('ready');
    expect(q(panel.node, 'llmbench-panel-leaderboard-row')).toHaveLength(1);
    panel.dispose();
  });
});
