/**
 * The panel's state: what the server last said per section, which cancels
 * are pending, and which errors to show. No DOM here.
 */

import { ISignal, Signal } from '@lumino/signaling';

import {
  ApiResult,
  IApiError,
  IExperiment,
  IJob,
  IJobsReply,
  ILeaderboardRow,
  ILlmbenchApi,
  IRun,
  ISchedule,
  IStatus,
  LeaderboardBy,
  isActive
} from './api';

import { IPollOutcome } from './backoff';

/** One section's last reply, or its last error. */
export interface ISection<T> {
  /** The last successful data; kept when a later poll fails. */
  data: T | null;
  /** The last error; cleared by the next success. */
  error: IApiError | null;
  /** Where the rows come from (the API's `source`), if it says. */
  source: string | null;
}

function emptySection<T>(): ISection<T> {
  return { data: null, error: null, source: null };
}

export interface IPanelModelOptions {
  api: ILlmbenchApi;
  rowsShown?: number;
  leaderboardBy?: LeaderboardBy;
  /** How long the slower sections may go without a refresh, in ms. */
  slowRefreshMs?: number;
  /** The clock (for tests). */
  now?: () => number;
}

/** How often runs, leaderboard, experiments and schedules refresh at least. */
export const SLOW_REFRESH_MS = 30000;

export class PanelModel {
  constructor(options: IPanelModelOptions) {
    this.api = options.api;
    this._rowsShown = options.rowsShown ?? 10;
    this._leaderboardBy = options.leaderboardBy ?? 'decode_tps';
    this._slowRefreshMs = options.slowRefreshMs ?? SLOW_REFRESH_MS;
    this._now = options.now ?? (() => Date.now());
  }

  readonly api: ILlmbenchApi;

  /** Emitted whenever anything shown changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted after a cancel was requested, so the poller can poll at once. */
  get activity(): ISignal<this, void> {
    return this._activity;
  }

  readonly status: ISection<IStatus> = emptySection();
  readonly jobs: ISection<IJob[]> = emptySection();
  readonly runs: ISection<IRun[]> = emptySection();
  readonly leaderboard: ISection<ILeaderboardRow[]> = emptySection();
  readonly experiments: ISection<IExperiment[]> = emptySection();
  readonly schedules: ISection<ISchedule[]> = emptySection();

  /** The 503 "store unreachable" error, while the store is unreachable. */
  get unreachable(): IApiError | null {
    return this._unreachable;
  }

  /** Whether the first load has finished (successfully or not). */
  get loaded(): boolean {
    return this._loaded;
  }

  get rowsShown(): number {
    return this._rowsShown;
  }

  set rowsShown(value: number) {
    const rows = Math.max(1, Math.floor(value));
    if (rows !== this._rowsShown) {
      this._rowsShown = rows;
      this._lastSlow = -Infinity;
      this._emit();
    }
  }

  get leaderboardBy(): LeaderboardBy {
    return this._leaderboardBy;
  }

  /** Change the leaderboard's order and reload it. */
  async setLeaderboardBy(by: LeaderboardBy): Promise<void> {
    if (by === this._leaderboardBy) {
      return;
    }
    this._leaderboardBy = by;
    this._emit();
    await this._refreshLeaderboard();
    this._emit();
  }

  /** Whether any job is queued or running. */
  get hasActiveJobs(): boolean {
    return (this.jobs.data ?? []).some(job => isActive(job.state));
  }

  /** Whether the panel asked to cancel this job and it has not ended yet. */
  isCancelling(job: IJob): boolean {
    return (
      isActive(job.state) &&
      (job.cancel_requested || this._cancelling.has(job.job_id))
    );
  }

  /** The error of the last cancel of this job, if it failed. */
  cancelError(jobId: string): string | null {
    return this._cancelErrors.get(jobId) ?? null;
  }

  /**
   * Poll: jobs always; the other sections when forced, when a job changed
   * state or appeared, or when they are older than `slowRefreshMs`.
   */
  async poll(force = false): Promise<IPollOutcome> {
    if (!this._loaded) {
      return this._firstLoad();
    }
    if (force || this._unreachable) {
      const status = await this.api.status();
      const statusChanged = this._apply(this.status, status, data => data);
      if (!status.ok && status.unreachable) {
        this._emit();
        return { changed: statusChanged, active: false, failed: true };
      }
    }
    const previous = this._jobsSignature;
    const previousStates = this._stateSignature;
    const jobs = await this.api.jobs(this._rowsShown);
    this._applyJobs(jobs);
    let changed = previous !== this._jobsSignature;
    const statesChanged = previousStates !== this._stateSignature;
    const stale = this._now() - this._lastSlow >= this._slowRefreshMs;
    if (force || statesChanged || stale) {
      changed = (await this._refreshSlow()) || changed;
    }
    this._emit();
    return { changed, active: this.hasActiveJobs, failed: !jobs.ok };
  }

  /**
   * Whether the sections a person opens the panel for, jobs and runs, have
   * their first answer (data or error), or the store is unreachable.
   */
  get firstRowsReady(): boolean {
    const answered = (section: ISection<unknown>) =>
      section.data !== null || section.error !== null;
    return !!this._unreachable || (answered(this.jobs) && answered(this.runs));
  }

  /**
   * The first load: every section asked at once (one round trip, not three in
   * a row, while JupyterLab itself is still loading), each shown as it comes.
   */
  private async _firstLoad(): Promise<IPollOutcome> {
    const [status, jobs] = await Promise.all([
      this.api.status().then(result => {
        this._apply(this.status, result, data => data);
        this._emit();
        return result;
      }),
      this.api.jobs(this._rowsShown).then(result => {
        this._applyJobs(result);
        this._emit();
        return result;
      }),
      this._refreshSlow()
    ]);
    const down = !status.ok && !!status.unreachable;
    if (down) {
      this._unreachable = status; // the health check decides, whatever came after it
    }
    this._loaded = true;
    this._emit();
    return {
      changed: true,
      active: !down && this.hasActiveJobs,
      failed: down || !jobs.ok
    };
  }

  private _applyJobs(jobs: ApiResult<IJobsReply>): void {
    this._apply(this.jobs, jobs, data => data.jobs ?? []);
    if (jobs.ok) {
      this._forgetEndedCancels();
    }
    this._jobsSignature = signature(this.jobs.data);
    this._stateSignature = stateSignature(this.jobs.data);
  }

  /**
   * Ask the server to cancel a job. The row shows "cancelling…" until the
   * job's state changes; a refused cancel (404, 409) shows its error.
   */
  async cancel(jobId: string): Promise<ApiResult<unknown>> {
    this._cancelling.add(jobId);
    this._cancelErrors.delete(jobId);
    this._emit();
    const result = await this.api.cancelJob(jobId);
    if (!result.ok) {
      this._cancelling.delete(jobId);
      this._cancelErrors.set(jobId, result.error);
      if (result.unreachable) {
        this._unreachable = result;
      }
    }
    this._emit();
    this._activity.emit();
    return result;
  }

  dispose(): void {
    Signal.clearData(this);
  }

  /** Runs, leaderboard, experiments and schedules, each shown as it comes. */
  private async _refreshSlow(): Promise<boolean> {
    this._lastSlow = this._now();
    const before = this._slowSignature();
    const rows = this._rowsShown;
    const show = <T, D>(
      reply: Promise<ApiResult<T>>,
      section: ISection<D>,
      pick: (data: T) => D
    ) =>
      reply.then(result => {
        if (this._apply(section, result, pick)) {
          this._emit();
        }
      });
    await Promise.all([
      show(this.api.runs(rows), this.runs, data => data.runs ?? []),
      show(this.api.experiments(), this.experiments, d => d.experiments ?? []),
      show(this.api.schedules(), this.schedules, d => d.schedules ?? []),
      this._refreshLeaderboard()
    ]);
    return before !== this._slowSignature();
  }

  private async _refreshLeaderboard(): Promise<void> {
    const by = this._leaderboardBy;
    const result = await this.api.leaderboard(by, this._rowsShown);
    if (by === this._leaderboardBy) {
      if (this._apply(this.leaderboard, result, data => data.rows ?? [])) {
        this._emit();
      }
    }
  }

  /** Store a reply in a section; returns whether the section changed. */
  private _apply<T, D>(
    section: ISection<D>,
    result: ApiResult<T>,
    pick: (data: T) => D
  ): boolean {
    const before = JSON.stringify([section.data, section.error?.error]);
    if (result.ok) {
      section.data = pick(result.data);
      section.error = null;
      const source = (result.data as unknown as { source?: unknown }).source;
      section.source = typeof source === 'string' ? source : null;
      if (this._unreachable) {
        this._unreachable = null;
      }
    } else {
      section.error = result;
      if (result.unreachable) {
        this._unreachable = result;
      }
    }
    return before !== JSON.stringify([section.data, section.error?.error]);
  }

  private _forgetEndedCancels(): void {
    const active = new Set(
      (this.jobs.data ?? [])
        .filter(job => isActive(job.state))
        .map(job => job.job_id)
    );
    for (const id of Array.from(this._cancelling)) {
      if (!active.has(id)) {
        this._cancelling.delete(id);
      }
    }
  }

  private _slowSignature(): string {
    return JSON.stringify([
      this.runs.data,
      this.leaderboard.data,
      this.experiments.data,
      this.schedules.data
    ]);
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _activity = new Signal<this, void>(this);
  private _rowsShown: number;
  private _leaderboardBy: LeaderboardBy;
  private _slowRefreshMs: number;
  private _now: () => number;
  private _lastSlow = -Infinity;
  private _loaded = false;
  private _unreachable: IApiError | null = null;
  private _jobsSignature = '';
  private _stateSignature = '';
  private _cancelling = new Set<string>();
  private _cancelErrors = new Map<string, string>();
}

function signature(jobs: IJob[] | null): string {
  return JSON.stringify(
    (jobs ?? []).map(job => [
      job.job_id,
      job.state,
      job.done,
      job.total,
      job.cancel_requested,
      job.error
    ])
  );
}

function stateSignature(jobs: IJob[] | null): string {
  return JSON.stringify((jobs ?? []).map(job => [job.job_id, job.state]));
}
