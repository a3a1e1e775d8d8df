import { Widget } from '@lumino/widgets';

import { PanelModel } from '../model';

import { LlmbenchPanel } from '../panel';

import { MARK, mark, markFirstPaint } from '../perf';

import { fakeServer, healthyRoutes, job, run } from './fakeserver';

/** A stand-in for the browser's marks: a clock we set, marks and measures kept. */
function fakePerformance() {
  const clock = { now: 0 };
  const marks: { name: string; startTime: number }[] = [];
  const measures: { name: string; start: number; end: number }[] = [];
  const fake = {
    mark: (name: string) => marks.push({ name, startTime: clock.now }),
    getEntriesByName: (name: string) => marks.filter(m => m.name === name),
    measure: (name: string, opts: { start: number; end: string }) => {
      const end = marks.filter(m => m.name === opts.end).pop()!.startTime;
      measures.push({ name, start: opts.start, end });
    }
  };
  return { clock, marks, measures, fake };
}

describe('first-paint marks', () => {
  const original = globalThis.performance;
  let perf: ReturnType<typeof fakePerformance>;
  beforeEach(() => {
    perf = fakePerformance();
    Object.defineProperty(globalThis, 'performance', {
      value: perf.fake,
      configurable: true
    });
  });
  afterEach(() => {
    Object.defineProperty(globalThis, 'performance', {
      value: original,
      configurable: true
    });
  });

  it('measure from the later start (load or shown) to the paint', () => {
    perf.clock.now = 10;
    mark(MARK.loadStart);
    perf.clock.now = 40;
    mark(MARK.shown);
    perf.clock.now = 95;
    markFirstPaint(callback => callback());
    expect(perf.measures).toEqual([{ name: MARK.measure, start: 40, end: 95 }]);
  });

  it('are no-ops where the browser keeps no marks', () => {
    Object.defineProperty(globalThis, 'performance', {
      value: {},
      configurable: true
    });
    expect(() => mark(MARK.loadStart)).not.toThrow();
    expect(() => markFirstPaint(callback => callback())).not.toThrow();
  });

  it('are set once by the panel: shown, then painted when data is in', async () => {
    const frames = () => new Promise(resolve => setTimeout(resolve, 100));
    const server = fakeServer(healthyRoutes([job()], [run()]));
    const model = new PanelModel({ api: server.api, rowsShown: 10 });
    const panel = new LlmbenchPanel({
      model,
      onOpenRun: () => null,
      onRefresh: () => undefined
    });
    mark(MARK.loadStart);
    Widget.attach(panel, document.body);
    panel.render();
    await frames();
    const names = () => perf.marks.map(m => m.name);
    expect(names()).toEqual([MARK.loadStart, MARK.shown]); // loading: no paint yet
    await model.poll(true);
    panel.render();
    panel.render();
    await frames();
    expect(names()).toEqual([MARK.loadStart, MARK.shown, MARK.firstPaint]);
    expect(perf.measures.map(m => m.name)).toEqual([MARK.measure]);
    Widget.detach(panel);
    panel.dispose();
  });
});
