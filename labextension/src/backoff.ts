/**
 * The panel's polling schedule, as pure logic (no timers, no DOM).
 *
 * - While jobs are queued or running, or the last poll saw a change, poll
 *   every `intervalMs` (the `refreshInterval` setting).
 * - While nothing changes and no job is active, or a poll fails, the delay
 *   doubles, up to `maxMs` (30 s).
 * - While the browser tab is hidden, polling pauses (`next()` is `null`); when
 *   the tab shows again the caller polls at once and the delay resets.
 * - Activity from the user (a cancel, a manual refresh) resets the delay.
 */

export interface IBackoffOptions {
  /** The base interval, in ms. */
  intervalMs: number;
  /** The longest delay, in ms (default 30 000). */
  maxMs?: number;
  /** How much the delay grows per idle poll (default 2). */
  factor?: number;
}

/** What a poll saw. */
export interface IPollOutcome {
  /** Whether anything shown changed since the previous poll. */
  changed: boolean;
  /** Whether any job is queued or running. */
  active: boolean;
  /** Whether the poll failed (an error reply or a network error). */
  failed?: boolean;
}

export const DEFAULT_MAX_MS = 30000;

export class Backoff {
  constructor(options: IBackoffOptions) {
    this._maxMs = options.maxMs ?? DEFAULT_MAX_MS;
    this._factor = options.factor ?? 2;
    this._intervalMs = this._clamp(options.intervalMs);
    this._current = this._intervalMs;
  }

  /** The base interval, in ms. Setting it resets the delay to it. */
  get intervalMs(): number {
    return this._intervalMs;
  }

  set intervalMs(value: number) {
    this._intervalMs = this._clamp(value);
    this._current = this._intervalMs;
  }

  get maxMs(): number {
    return this._maxMs;
  }

  /** The delay before the next poll, ignoring visibility. */
  get currentMs(): number {
    return this._current;
  }

  get hidden(): boolean {
    return this._hidden;
  }

  /**
   * Record a poll's outcome; returns the delay before the next poll, in ms,
   * or `null` while the tab is hidden (paused).
   */
  record(outcome: IPollOutcome): number | null {
    if (outcome.failed) {
      this._grow();
    } else if (outcome.changed || outcome.active) {
      this._current = this._intervalMs;
    } else {
      this._grow();
    }
    return this.next();
  }

  /** The delay before the next poll, or `null` while paused. */
  next(): number | null {
    return this._hidden ? null : this._current;
  }

  /** User activity: poll at the base interval again. */
  reset(): void {
    this._current = this._intervalMs;
  }

  /**
   * The tab was hidden or shown. Returns true when the caller should poll now
   * (the tab became visible again); the delay is then reset.
   */
  setHidden(hidden: boolean): boolean {
    const wasHidden = this._hidden;
    this._hidden = hidden;
    if (wasHidden && !hidden) {
      this.reset();
      return true;
    }
    return false;
  }

  private _grow(): void {
    this._current = Math.min(this._current * this._factor, this._maxMs);
  }

  private _clamp(ms: number): number {
    if (!Number.isFinite(ms) || ms <= 0) {
      return 2000;
    }
    return Math.min(Math.max(ms, 100), this._maxMs);
  }

  private _intervalMs: number;
  private _current: number;
  private _hidden = false;
  private readonly _maxMs: number;
  private readonly _factor: number;
}
