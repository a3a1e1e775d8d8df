import { apiUrl, mapResponse } from '../api';

import { BASE_URL, fakeServer } from './fakeserver';

describe('apiUrl', () => {
  it('joins the base URL, the API namespace and the path', () => {
    expect(apiUrl('http://h:8888/', 'status')).toBe(
      'http://h:8888/llmbench/api/status'
    );
    expect(apiUrl('http://h:8888/user/bob', 'jobs', { limit: 5 })).toBe(
      'http://h:8888/user/bob/llmbench/api/jobs?limit=5'
    );
  });

  it('encodes query values and drops undefined ones', () => {
    expect(
      apiUrl('/base/', 'leaderboard', { by: 'ttft_ms', limit: 3, x: undefined })
    ).toBe('/base/llmbench/api/leaderboard?by=ttft_ms&limit=3');
    expect(apiUrl('/', 'runs', { q: 'a b&c' })).toBe(
      '/llmbench/api/runs?q=a%20b%26c'
    );
  });
});

describe('mapResponse', () => {
  it('returns the data of a 2xx JSON reply', () => {
    expect(mapResponse(200, 'OK', '{"jobs": []}')).toEqual({
      ok: true,
      status: 200,
      data: { jobs: [] }
    });
  });

  it('maps a 503 to "unreachable" with the server error and hint', () => {
    const result = mapResponse(
      503,
      'Service Unavailable',
      JSON.stringify({
        ok: false,
        error: 'connection refused',
        hint: 'Is PostgreSQL up?'
      })
    );
    expect(result).toEqual({
      ok: false,
      status: 503,
      error: 'connection refused',
      hint: 'Is PostgreSQL up?',
      unreachable: true
    });
  });

  it('gives a 503 without a body a message of its own', () => {
    const result = mapResponse(503, 'Service Unavailable', '');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.unreachable).toBe(true);
      expect(result.error).toMatch(/store cannot be reached/);
    }
  });

  it('keeps the error of 4xx replies and is not "unreachable"', () => {
    expect(
      mapResponse(409, 'Conflict', '{"error": "job already finished"}')
    ).toEqual({
      ok: false,
      status: 409,
      error: 'job already finished',
      hint: null,
      unreachable: false
    });
  });

  it('hints at the server extension on a non-JSON 404', () => {
    const result = mapResponse(404, 'Not Found', '<html>404</html>');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBe('HTTP 404 Not Found');
      expect(result.hint).toMatch(/server extension/);
    }
  });

  it('refuses a 2xx reply that is not JSON', () => {
    const result = mapResponse(200, 'OK', 'hello');
    expect(result.ok).toBe(false);
  });

  it('uses the status line when a 5xx body says nothing', () => {
    const result = mapResponse(500, 'Internal Server Error', '{}');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBe('HTTP 500 Internal Server Error');
      expect(result.unreachable).toBe(false);
    }
  });
});

describe('LlmbenchApi', () => {
  it('GETs under the server base URL with the query', async () => {
    const server = fakeServer({ 'GET jobs': [200, { jobs: [] }] });
    const result = await server.api.jobs(7);
    expect(result).toEqual({ ok: true, status: 200, data: { jobs: [] } });
    expect(server.calls).toEqual([
      {
        method: 'GET',
        url: `${BASE_URL}llmbench/api/jobs?limit=7`,
        path: 'jobs'
      }
    ]);
  });

  it('asks for the leaderboard by the given order', async () => {
    const server = fakeServer({
      'GET leaderboard': [200, { rows: [], source: 's' }]
    });
    await server.api.leaderboard('ttft_ms', 3);
    expect(server.calls[0].url).toBe(
      `${BASE_URL}llmbench/api/leaderboard?by=ttft_ms&limit=3`
    );
  });

  it('POSTs a cancel to the encoded job path', async () => {
    const server = fakeServer({
      'POST jobs/a%2Fb/cancel': [202, { job_id: 'a/b', cancel_requested: true }]
    });
    const result = await server.api.cancelJob('a/b');
    expect(result.ok).toBe(true);
    expect(server.calls[0].method).toBe('POST');
    expect(server.calls[0].url).toBe(
      `${BASE_URL}llmbench/api/jobs/a%2Fb/cancel`
    );
  });

  it('maps 404 and 409 cancel replies to errors', async () => {
    const server = fakeServer({
      'POST jobs/gone/cancel': [404, { error: 'unknown job gone' }],
      'POST jobs/old/cancel': [409, { error: 'job old already finished' }]
    });
    const gone = await server.api.cancelJob('gone');
    const old = await server.api.cancelJob('old');
    expect(gone).toMatchObject({
      ok: false,
      status: 404,
      error: 'unknown job gone'
    });
    expect(old).toMatchObject({
      ok: false,
      status: 409,
      error: 'job old already finished'
    });
  });

  it('maps a 503 status reply to "unreachable"', async () => {
    const server = fakeServer({
      'GET status': [
        503,
        {
          ok: false,
          error: 'could not connect to server',
          hint: 'Check LLMBENCH_STORE.'
        }
      ]
    });
    const result = await server.api.status();
    expect(result).toEqual({
      ok: false,
      status: 503,
      error: 'could not connect to server',
      hint: 'Check LLMBENCH_STORE.',
      unreachable: true
    });
  });

  it('never throws on a network error', async () => {
    const server = fakeServer();
    server.fetch.mockImplementation(() =>
      Promise.reject(new TypeError('Failed to fetch'))
    );
    const result = await server.api.runs(5);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.status).toBe(0);
      expect(result.error).toMatch(/Cannot reach the Jupyter server/);
    }
  });

  it('hints at the server extension when the API is missing', async () => {
    const server = fakeServer();
    const result = await server.api.experiments();
    expect(result).toMatchObject({ ok: false, status: 404 });
    if (!result.ok) {
      expect(result.hint).toMatch(/jupyter server extension list/);
    }
  });

  it('joins an identical request in flight instead of sending another', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>(resolve => (release = resolve));
    const server = fakeServer({
      'GET jobs': async () => {
        await gate;
        return [200, { jobs: [] }];
      }
    });
    const first = server.api.jobs(5);
    const second = server.api.jobs(5);
    expect(second).toBe(first);
    release();
    await Promise.all([first, second]);
    expect(server.calls).toHaveLength(1);
    expect(server.api.inflight).toBe(0);
  });

  it('keeps at most one request in flight per endpoint', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const server = fakeServer({
      'GET leaderboard': async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise(resolve => setTimeout(resolve, 5));
        inFlight -= 1;
        return [200, { rows: [], source: '' }];
      }
    });
    const results = await Promise.all([
      server.api.leaderboard('decode_tps', 5),
      server.api.leaderboard('ttft_ms', 5),
      server.api.leaderboard('cost', 5)
    ]);
    expect(results.every(r => r.ok)).toBe(true);
    expect(
      server.calls.map(c => new URL(c.url).searchParams.get('by'))
    ).toEqual(['decode_tps', 'ttft_ms', 'cost']);
    expect(maxInFlight).toBe(1);
  });
});
