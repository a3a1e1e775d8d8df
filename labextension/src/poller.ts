/**
 * Drives `PanelModel.poll` on the `Backoff` schedule with timers, pausing
 * while the tab is hidden. One poll at a time: a refresh asked for during a
 * poll runs right after it.
 */

import { Backoff, IPollOutcome } from './backoff';

export interface IPollerOptions {
  /** One poll; `force` asks for every section. */
  poll: (force: boolean) => Promise<IPollOutcome>;
  backoff: Backoff;
  /** The document whose visibility pauses polling (default: `document`). */
  document?: Document | null;
}

export class Poller {
  constructor(options: IPollerOptions) {
    this._poll = options.poll;
    this.backoff = options.backoff;
    this._document =
      options.document !== undefined
        ? options.document
        : typeof document !== 'undefined'
          ? document
          : null;
    if (this._document) {
      this.backoff.setHidden(this._document.visibilityState === 'hidden');
      this._document.addEventListener('visibilitychange', this._onVisibility);
    }
  }

  readonly backoff: Backoff;

  /** Whether a poll is running. */
  get polling(): boolean {
    return this._running !== null;
  }

  /** The delay of the timer now set, in ms, or null when none is. */
  get scheduledMs(): number | null {
    return this._scheduledMs;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Start polling (polls at once). */
  start(): void {
    void this.refresh(true);
  }

  /**
   * Poll now (after the running poll, if any), with the delay reset.
   * Resolves when that poll is done.
   */
  refresh(force = false): Promise<void> {
    if (this._disposed) {
      return Promise.resolve();
    }
    this.backoff.reset();
    this._clearTimer();
    if (this._running) {
      this._again = true;
      this._againForce = this._againForce || force;
      return this._running;
    }
    this._running = this._run(force);
    return this._running;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._clearTimer();
    this._document?.removeEventListener('visibilitychange', this._onVisibility);
  }

  private async _run(force: boolean): Promise<void> {
    let next: number | null = null;
    try {
      for (;;) {
        let outcome: IPollOutcome;
        try {
          outcome = await this._poll(force);
        } catch (reason) {
          console.error('llmbench: a panel refresh failed', reason);
          outcome = { changed: false, active: false, failed: true };
        }
        next = this.backoff.record(outcome);
        if (!this._again || this._disposed) {
          break;
        }
        force = this._againForce;
        this._again = false;
        this._againForce = false;
        this.backoff.reset();
      }
    } finally {
      this._running = null;
    }
    this._schedule(next);
  }

  private _schedule(delay: number | null): void {
    this._clearTimer();
    if (this._disposed || delay === null) {
      return;
    }
    this._scheduledMs = delay;
    this._timer = setTimeout(() => {
      this._timer = null;
      this._scheduledMs = null;
      if (!this._running) {
        this._running = this._run(false);
      }
    }, delay);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    this._scheduledMs = null;
  }

  private _onVisibility = (): void => {
    if (!this._document || this._disposed) {
      return;
    }
    const hidden = this._document.visibilityState === 'hidden';
    if (this.backoff.setHidden(hidden)) {
      void this.refresh(false);
    } else if (hidden) {
      this._clearTimer();
    }
  };

  private _poll: (force: boolean) => Promise<IPollOutcome>;
  private _document: Document | null;
  private _running: Promise<void> | null = null;
  private _again = false;
  private _againForce = false;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _scheduledMs: number | null = null;
  private _disposed = false;
}
