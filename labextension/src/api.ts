/**
 * The client of the llmbench server extension's REST API.
 *
 * Every call resolves to an `ApiResult`: it never throws. Errors are mapped to
 * `{ ok: false, status, error, hint, unreachable }` so the panel can show them.
 * At most one request is in flight per endpoint: an identical request joins
 * the one in flight, a different one (say, another leaderboard order) waits
 * for it to end.
 */

import { URLExt } from '@jupyterlab/coreutils';

import { ServerConnection } from '@jupyterlab/services';

/** The API's namespace under the server's base URL. */
export const API_NAMESPACE = 'llmbench/api';

export type JobKind = 'bench' | 'eval' | 'tune';

export type JobState =
  'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/** The states from which a job can still be cancelled. */
export const ACTIVE_STATES: ReadonlyArray<JobState> = ['queued', 'running'];

export function isActive(state: string): boolean {
  return (ACTIVE_STATES as ReadonlyArray<string>).includes(state);
}

export interface IStatus {
  ok: boolean;
  owner: string;
  store: string;
  version: string;
}

export interface IJob {
  job_id: string;
  kind: JobKind;
  name: string;
  state: JobState;
  done: number | null;
  total: number | null;
  run_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  cancel_requested: boolean;
}

export interface IJobsReply {
  jobs: IJob[];
}

export interface ICancelReply {
  job_id: string;
  cancel_requested: boolean;
}

export interface IRun {
  run_id: string;
  kind: 'bench' | 'eval';
  name: string;
  status: string;
  created_at: string;
  owner: string;
  published: boolean;
  mine: boolean;
  requests: number | null;
  errors: number | null;
  targets: string;
  ttft_ms_p50: number | null;
  decode_tps_p50: number | null;
  pass_rate: number | null;
}

export interface IRunsReply {
  runs: IRun[];
  source: string;
}

export type LeaderboardBy =
  'decode_tps' | 'ttft_ms' | 'tpot_ms' | 'cost' | 'success_rate';

export const LEADERBOARD_ORDERS: ReadonlyArray<LeaderboardBy> = [
  'decode_tps',
  'ttft_ms',
  'tpot_ms',
  'cost',
  'success_rate'
];

export interface ILeaderboardRow {
  rank: number;
  provider: string;
  model: string;
  context_tier: string | null;
  requests: number | null;
  success_rate: number | null;
  ttft_ms_p50: number | null;
  decode_tps_p50: number | null;
  tpot_ms_p50: number | null;
  cost_per_1k_output_usd: number | null;
  n_runs: number | null;
}

export interface ILeaderboardReply {
  rows: ILeaderboardRow[];
  source: string;
}

export interface IExperiment {
  name: string;
  description: string | null;
  runs: number;
  studies: number;
  baseline: string | null;
  updated_at: string | null;
}

export interface IExperimentsReply {
  experiments: IExperiment[];
}

export interface ISchedule {
  name: string;
  kind: string;
  cron: string;
  timezone: string | null;
  enabled: boolean;
  next_due_at: string | null;
  last_fired_at: string | null;
  last_status: string | null;
  last_run_id: string | null;
}

export interface ISchedulesReply {
  schedules: ISchedule[];
}

/** A failed call, as the panel shows it. */
export interface IApiError {
  ok: false;
  /** The HTTP status; 0 when the Jupyter server could not be reached at all. */
  status: number;
  error: string;
  hint: string | null;
  /** True for a 503: the server is up but the results store is not. */
  unreachable: boolean;
}

export interface IApiSuccess<T> {
  ok: true;
  status: number;
  data: T;
}

export type ApiResult<T> = IApiSuccess<T> | IApiError;

/** The subset of the client the panel's model uses (a seam for tests). */
export interface ILlmbenchApi {
  status(): Promise<ApiResult<IStatus>>;
  jobs(limit: number): Promise<ApiResult<IJobsReply>>;
  cancelJob(jobId: string): Promise<ApiResult<ICancelReply>>;
  runs(limit: number): Promise<ApiResult<IRunsReply>>;
  leaderboard(
    by: LeaderboardBy,
    limit: number
  ): Promise<ApiResult<ILeaderboardReply>>;
  experiments(): Promise<ApiResult<IExperimentsReply>>;
  schedules(): Promise<ApiResult<ISchedulesReply>>;
}

type Query = Record<string, string | number | undefined>;

/**
 * Build the URL of an endpoint: `<baseUrl>/llmbench/api/<path>?<query>`.
 */
export function apiUrl(baseUrl: string, path: string, query?: Query): string {
  const url = URLExt.join(baseUrl, API_NAMESPACE, path);
  const params: string[] = [];
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) {
      params.push(
        `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
      );
    }
  }
  return params.length ? `${url}?${params.join('&')}` : url;
}

const NOT_INSTALLED_HINT =
  'Is the llmbench server extension enabled? Check with `jupyter server extension list`, then restart the server.';

/**
 * Turn a response status and body into an `ApiResult`.
 */
export function mapResponse<T>(
  status: number,
  statusText: string,
  bodyText: string
): ApiResult<T> {
  let body: unknown = undefined;
  let parsed = false;
  if (bodyText.length > 0) {
    try {
      body = JSON.parse(bodyText);
      parsed = true;
    } catch {
      parsed = false;
    }
  }
  const ok = status >= 200 && status < 300;
  if (ok) {
    if (!parsed || body === null || typeof body !== 'object') {
      return {
        ok: false,
        status,
        error: 'The server answered with something that is not JSON.',
        hint: NOT_INSTALLED_HINT,
        unreachable: false
      };
    }
    return { ok: true, status, data: body as T };
  }
  const obj =
    parsed && body !== null && typeof body === 'object'
      ? (body as Record<string, unknown>)
      : {};
  const text = (key: string): string | null =>
    typeof obj[key] === 'string' && (obj[key] as string).length > 0
      ? (obj[key] as string)
      : null;
  const unreachable = status === 503;
  let error =
    text('error') ??
    text('message') ??
    text('reason') ??
    `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
  let hint = text('hint');
  if (unreachable && !text('error')) {
    error = 'The results store cannot be reached.';
  }
  if (!parsed && status === 404) {
    hint = hint ?? NOT_INSTALLED_HINT;
  }
  if (!parsed && status === 403) {
    hint = hint ?? 'Your Jupyter session may have expired: reload the page.';
  }
  return { ok: false, status, error, hint, unreachable };
}

interface IInflight {
  url: string;
  method: string;
  promise: Promise<ApiResult<any>>;
}

export class LlmbenchApi implements ILlmbenchApi {
  constructor(serverSettings?: ServerConnection.ISettings) {
    this.serverSettings = serverSettings ?? ServerConnection.makeSettings();
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** How many requests are in flight (for tests and diagnostics). */
  get inflight(): number {
    return this._inflight.size;
  }

  url(path: string, query?: Query): string {
    return apiUrl(this.serverSettings.baseUrl, path, query);
  }

  status(): Promise<ApiResult<IStatus>> {
    return this.request<IStatus>('status', 'status');
  }

  jobs(limit: number): Promise<ApiResult<IJobsReply>> {
    return this.request<IJobsReply>('jobs', 'jobs', { limit });
  }

  cancelJob(jobId: string): Promise<ApiResult<ICancelReply>> {
    const path = `jobs/${encodeURIComponent(jobId)}/cancel`;
    return this.request<ICancelReply>(path, path, undefined, {
      method: 'POST'
    });
  }

  runs(limit: number): Promise<ApiResult<IRunsReply>> {
    return this.request<IRunsReply>('runs', 'runs', { limit });
  }

  leaderboard(
    by: LeaderboardBy,
    limit: number
  ): Promise<ApiResult<ILeaderboardReply>> {
    return this.request<ILeaderboardReply>('leaderboard', 'leaderboard', {
      by,
      limit
    });
  }

  experiments(): Promise<ApiResult<IExperimentsReply>> {
    return this.request<IExperimentsReply>('experiments', 'experiments');
  }

  schedules(): Promise<ApiResult<ISchedulesReply>> {
    return this.request<ISchedulesReply>('schedules', 'schedules');
  }

  /**
   * Call `path` (keyed as `endpoint` for the one-in-flight rule). Never throws.
   */
  request<T>(
    endpoint: string,
    path: string,
    query?: Query,
    init: RequestInit = {}
  ): Promise<ApiResult<T>> {
    const url = this.url(path, query);
    const method = (init.method ?? 'GET').toUpperCase();
    const current = this._inflight.get(endpoint);
    if (
      current &&
      current.url === url &&
      method === 'GET' &&
      current.method === 'GET'
    ) {
      return current.promise as Promise<ApiResult<T>>;
    }
    const previous: Promise<unknown> = current
      ? current.promise
      : Promise.resolve();
    const promise = previous.then(() => this._fetch<T>(url, init));
    const entry: IInflight = { url, method, promise };
    this._inflight.set(endpoint, entry);
    void promise.then(() => {
      if (this._inflight.get(endpoint) === entry) {
        this._inflight.delete(endpoint);
      }
    });
    return promise;
  }

  private async _fetch<T>(
    url: string,
    init: RequestInit
  ): Promise<ApiResult<T>> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        init,
        this.serverSettings
      );
    } catch (reason) {
      const message =
        reason instanceof Error ? reason.message : String(reason ?? '');
      return {
        ok: false,
        status: 0,
        error: `Cannot reach the Jupyter server${message ? `: ${message}` : ''}.`,
        hint: 'Check that JupyterLab is still running, then retry.',
        unreachable: false
      };
    }
    let text = '';
    try {
      text = await response.text();
    } catch {
      text = '';
    }
    return mapResponse<T>(response.status, response.statusText, text);
  }

  private _inflight = new Map<string, IInflight>();
}
