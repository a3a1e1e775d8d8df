import { Backoff } from '../backoff';

import { Poller } from '../poller';

const idle = { changed: false, active: false };

describe('Backoff', () => {
  it('starts at the refresh interval', () => {
    const backoff = new Backoff({ intervalMs: 2000 });
    expect(backoff.next()).toBe(2000);
  });

  it('doubles the delay while nothing changes, up to 30 s', () => {
    const backoff = new Backoff({ intervalMs: 2000 });
    const delays = [1, 2, 3, 4, 5, 6].map(() => backoff.record(idle));
    expect(delays).toEqual([4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('polls at the interval while jobs are active', () => {
    const backoff = new Backoff({ intervalMs: 2000 });
    backoff.record(idle);
    backoff.record(idle);
    expect(backoff.record({ changed: false, active: true })).toBe(2000);
    expect(backoff.record({ changed: false, active: true })).toBe(2000);
  });

  it('resets on a change', () => {
    const backoff = new Backoff({ intervalMs: 1000 });
    for (let i = 0; i < 10; i++) {
      backoff.record(idle);
    }
    expect(backoff.next()).toBe(30000);
    expect(backoff.record({ changed: true, active: false })).toBe(1000);
  });

  it('resets on user activity', () => {
    const backoff = new Backoff({ intervalMs: 1000 });
    backoff.record(idle);
    backoff.record(idle);
    backoff.reset();
    expect(backoff.next()).toBe(1000);
  });

  it('backs off on failures, even with active jobs', () => {
    const backoff = new Backoff({ intervalMs: 2000 });
    expect(backoff.record({ changed: true, active: true, failed: true })).toBe(
      4000
    );
    expect(backoff.record({ changed: false, active: true, failed: true })).toBe(
      8000
    );
  });

  it('pauses while hidden and asks for a poll when shown again', () => {
    const backoff = new Backoff({ intervalMs: 2000 });
    backoff.record(idle);
    expect(backoff.setHidden(true)).toBe(false);
    expect(backoff.next()).toBeNull();
    expect(backoff.record({ changed: true, active: true })).toBeNull();
    expect(backoff.setHidden(false)).toBe(true);
    expect(backoff.next()).toBe(2000);
    expect(backoff.setHidden(false)).toBe(false);
  });

  it('takes a new interval and clamps silly ones', () => {
    const backoff = new Backoff({ intervalMs: 2000 });
    backoff.record(idle);
    backoff.intervalMs = 5000;
    expect(backoff.next()).toBe(5000);
    backoff.intervalMs = 120000;
    expect(backoff.intervalMs).toBe(30000);
    backoff.intervalMs = NaN;
    expect(backoff.intervalMs).toBe(2000);
    backoff.intervalMs = 1;
    expect(backoff.intervalMs).toBe(100);
  });

  it('honours a custom maximum and factor', () => {
    const backoff = new Backoff({ intervalMs: 1000, maxMs: 5000, factor: 3 });
    expect([1, 2, 3].map(() => backoff.record(idle))).toEqual([
      3000, 5000, 5000
    ]);
  });
});

/** A document whose visibility the test sets. */
function fakeDocument(): Document & { setHidden(hidden: boolean): void } {
  const target = new EventTarget() as any;
  target.visibilityState = 'visible';
  target.setHidden = (hidden: boolean) => {
    target.visibilityState = hidden ? 'hidden' : 'visible';
    target.dispatchEvent(new Event('visibilitychange'));
  };
  return target;
}

describe('Poller', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('polls at once, then on the back-off schedule', async () => {
    const poll = jest.fn(async () => idle);
    const doc = fakeDocument();
    const poller = new Poller({
      poll,
      backoff: new Backoff({ intervalMs: 1000 }),
      document: doc
    });
    poller.start();
    await Promise.resolve();
    await Promise.resolve();
    expect(poll).toHaveBeenCalledTimes(1);
    expect(poll).toHaveBeenLastCalledWith(true);
    expect(poller.scheduledMs).toBe(2000);
    await jest.advanceTimersByTimeAsync(1999);
    expect(poll).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(poll).toHaveBeenCalledTimes(2);
    expect(poller.scheduledMs).toBe(4000);
    poller.dispose();
  });

  it('stops while the tab is hidden and polls when it shows', async () => {
    const poll = jest.fn(async () => ({ changed: false, active: true }));
    const doc = fakeDocument();
    const poller = new Poller({
      poll,
      backoff: new Backoff({ intervalMs: 1000 }),
      document: doc
    });
    poller.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(poll).toHaveBeenCalledTimes(1);
    doc.setHidden(true);
    expect(poller.scheduledMs).toBeNull();
    await jest.advanceTimersByTimeAsync(60000);
    expect(poll).toHaveBeenCalledTimes(1);
    doc.setHidden(false);
    await jest.advanceTimersByTimeAsync(0);
    expect(poll).toHaveBeenCalledTimes(2);
    expect(poller.scheduledMs).toBe(1000);
    poller.dispose();
  });

  it('never runs two polls at once; a refresh during a poll follows it', async () => {
    let running = 0;
    let maxRunning = 0;
    const poll = jest.fn(async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await new Promise(resolve => setTimeout(resolve, 100));
      running -= 1;
      return idle;
    });
    const poller = new Poller({
      poll,
      backoff: new Backoff({ intervalMs: 1000 }),
      document: fakeDocument()
    });
    poller.start();
    const a = poller.refresh(true);
    const b = poller.refresh(false);
    await jest.advanceTimersByTimeAsync(250);
    await Promise.all([a, b]);
    expect(poll).toHaveBeenCalledTimes(2);
    expect(maxRunning).toBe(1);
    poller.dispose();
  });

  it('polls immediately on refresh, resetting the back-off', async () => {
    const poll = jest.fn(async () => idle);
    const poller = new Poller({
      poll,
      backoff: new Backoff({ intervalMs: 1000 }),
      document: fakeDocument()
    });
    poller.start();
    await jest.advanceTimersByTimeAsync(2000 + 4000 + 8000);
    expect(poll).toHaveBeenCalledTimes(4);
    expect(poller.scheduledMs).toBe(16000);
    await poller.refresh(false);
    expect(poll).toHaveBeenCalledTimes(5);
    expect(poller.scheduledMs).toBe(2000);
    poller.dispose();
  });

  it('treats a poll that throws as a failure and keeps going', async () => {
    const spy = jest
      .spyOn(console, 'error')
      .mockImplementation(() => undefined);
    const poll = jest.fn(async () => {
      throw new Error('boom');
    });
    const poller = new Poller({
      poll,
      backoff: new Backoff({ intervalMs: 1000 }),
      document: fakeDocument()
    });
    poller.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(poller.scheduledMs).toBe(2000);
    poller.dispose();
    expect(poller.scheduledMs).toBeNull();
    spy.mockRestore();
  });
});
