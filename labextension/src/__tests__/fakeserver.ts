/**
 * A fake llmbench REST API for tests: a `fetch` answering from a route table
 * and recording every request.
 */

import { ServerConnection } from '@jupyterlab/services';

import { IJob, IRun, LlmbenchApi } from '../api';

export const BASE_URL = 'http://localhost:8888/user/alice/';

export type Reply =
  [number, unknown] | (() => [number, unknown] | Promise<[number, unknown]>);

export interface IFakeServer {
  api: LlmbenchApi;
  routes: Record<string, Reply>;
  calls: { method: string; url: string; path: string }[];
  fetch: jest.Mock;
}

/** Routes are keyed "METHOD path" with the path under llmbench/api and no query. */
export function fakeServer(routes: Record<string, Reply> = {}): IFakeServer {
  const calls: IFakeServer['calls'] = [];
  const server: IFakeServer = {
    routes,
    calls,
    fetch: jest.fn(),
    api: null as unknown as LlmbenchApi
  };
  server.fetch = jest.fn(async (request: Request) => {
    const url = new URL(request.url);
    const prefix = new URL(BASE_URL).pathname + 'llmbench/api/';
    const path = url.pathname.startsWith(prefix)
      ? url.pathname.slice(prefix.length)
      : url.pathname;
    // ServerConnection appends a cache-buster (`?<ms>` or `&<ms>`): drop it.
    const plain = request.url.replace(/[?&]\d{10,}$/, '');
    calls.push({ method: request.method, url: plain, path });
    const route = server.routes[`${request.method} ${path}`];
    if (!route) {
      return new Response('<html>404: Not Found</html>', {
        status: 404,
        statusText: 'Not Found',
        headers: { 'Content-Type': 'text/html' }
      });
    }
    const [status, body] = typeof route === 'function' ? await route() : route;
    return new Response(
      typeof body === 'string' ? body : JSON.stringify(body),
      {
        status,
        headers: { 'Content-Type': 'application/json' }
      }
    );
  });
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    fetch: server.fetch as unknown as typeof fetch
  });
  server.api = new LlmbenchApi(settings);
  return server;
}

export function job(overrides: Partial<IJob> = {}): IJob {
  return {
    job_id: 'job-1',
    kind: 'bench',
    name: 'gpt-4o-mini latency',
    state: 'running',
    done: 5,
    total: 10,
    run_id: null,
    created_at: '2025-01-01T10:00:00Z',
    started_at: '2025-01-01T10:00:01Z',
    finished_at: null,
    error: null,
    cancel_requested: false,
    ...overrides
  };
}

export function run(overrides: Partial<IRun> = {}): IRun {
  return {
    run_id: 'run-abc',
    kind: 'bench',
    name: 'nightly latency',
    status: 'done',
    created_at: '2025-01-01T10:00:00Z',
    owner: 'alice',
    published: false,
    mine: true,
    requests: 40,
    errors: 0,
    targets: 'openai/gpt-4o-mini',
    ttft_ms_p50: 212.4,
    decode_tps_p50: 87.25,
    pass_rate: null,
    ...overrides
  };
}

/** Routes for a healthy server with the given jobs and runs. */
export function healthyRoutes(
  jobs: IJob[] = [],
  runs: IRun[] = []
): Record<string, Reply> {
  return {
    'GET status': [
      200,
      {
        ok: true,
        owner: 'alice',
        store: 'postgresql://***@db/llmbench',
        version: '0.9.0'
      }
    ],
    'GET jobs': [200, { jobs }],
    'GET runs': [200, { runs, source: 'store' }],
    'GET leaderboard': [
      200,
      {
        rows: [
          {
            rank: 1,
            provider: 'openai',
            model: 'gpt-4o-mini',
            context_tier: 'short',
            requests: 400,
            success_rate: 0.995,
            ttft_ms_p50: 210,
            decode_tps_p50: 88.1,
            tpot_ms_p50: 11.35,
            cost_per_1k_output_usd: 0.0006,
            n_runs: 10
          }
        ],
        source: 'last 30 days'
      }
    ],
    'GET experiments': [200, { experiments: [] }],
    'GET schedules': [200, { schedules: [] }]
  };
}

/** Let pending promises settle. */
export async function flush(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}
