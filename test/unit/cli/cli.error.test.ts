import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { apiError, cli, closedPort, startAdminDouble } from './admin-double';

let double: Awaited<ReturnType<typeof startAdminDouble>>;
let env: Record<string, string>;

beforeEach(async () => {
  double = await startAdminDouble({
    'GET /admin/keys/nope': apiError(404, "No API key with id 'nope'.", 'key_not_found'),
    'POST /admin/keys': {
      status: 201,
      body: {
        id: 'key_1',
        key: 'tg_once_only',
        prefix: 'tg_once',
        name: 'x',
        scopes: ['proxy'],
        allowedModels: null,
        expiresAt: null,
        createdAt: '2026-11-29T00:00:00.000Z',
        options: {},
      },
    },
    'PUT /admin/keys/key_1/budget': apiError(400, 'timezone is not supported', 'invalid_value', 'timezone'),
    'GET /admin/alerts': { status: 502, raw: '<html><body>Bad Gateway</body></html>' },
    'GET /admin/keys': apiError(401, 'Incorrect API key provided.', 'invalid_api_key'),
  });
  env = { TOLLGATE_URL: double.url, TOLLGATE_ADMIN_TOKEN: 'op-token' };
});
afterEach(() => double.close());

describe('exit 1: the gateway answered an error', () => {
  test("prints the gateway's message, status and code", async () => {
    const { code, stdout, stderr } = await cli(['keys', 'show', 'nope'], env);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe("tollgate: No API key with id 'nope'. (HTTP 404, code: key_not_found)\n");
  });

  test('a wrong operator token', async () => {
    const { code, stderr } = await cli(['keys', 'list'], env);
    expect(code).toBe(1);
    expect(stderr).toContain('code: invalid_api_key');
  });

  test('a non-JSON error page is reported, not parsed', async () => {
    const { code, stderr } = await cli(['alerts'], env);
    expect(code).toBe(1);
    expect(stderr).toContain('The gateway answered HTTP 502: <html><body>Bad Gateway</body></html>');
  });

  test('a failed budget after create still prints the one-time secret, then the error', async () => {
    const { code, stdout, stderr } = await cli(['keys', 'create', '--name', 'x', '--budget', '5', '--timezone', 'UTC'], env);
    expect(code).toBe(1);
    expect(stdout).toContain('tg_once_only');
    expect(stdout).toContain('budget was NOT set');
    expect(stderr).toContain("retry with 'tollgate budget set key_1");
    expect(stderr).toContain('timezone is not supported (HTTP 400, code: invalid_value, param: timezone)');
  });

  test('with --json, the partial result is still one JSON document with budget null', async () => {
    const { code, stdout, stderr } = await cli(['keys', 'create', '--name', 'x', '--budget', '5', '--json'], env);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ id: 'key_1', key: 'tg_once_only', budget: null });
    expect(stderr).toMatch(/shown only once/);
  });
});

describe('exit 2: usage errors send nothing', () => {
  test.each([
    [[], 'missing command.'],
    [['frob'], "unknown command 'frob'."],
    [['keys'], "'keys' needs a command."],
    [['keys', 'frob'], "unknown command 'keys frob'."],
    [['keys', 'list', '--bogus'], "Unknown option '--bogus'."],
    [['keys', 'create'], 'missing required flag --name.'],
    [['keys', 'create', '--name'], "Option '--name <value>' argument missing"],
    [['keys', 'create', '--name', 'x', '--budget', '1e3'], "--budget must be a decimal amount like 10 or 0.03, got '1e3'."],
    [['keys', 'create', '--name', 'x', '--budget', '-5'], "Option '--budget' argument is ambiguous."],
    [['keys', 'create', '--name', 'x', '--budget', '.5'], '--budget must be a decimal amount'],
    [['keys', 'create', '--name', 'x', '--budget', '10', '--period', 'year'], '--period must be one of day, week, month, total'],
    [['keys', 'create', '--name', 'x', '--budget', '10', '--timezone', 'Mars/Olympus'], '--timezone must be an IANA time zone'],
    [['keys', 'create', '--name', 'x', '--budget', '10', '--soft', '101'], '--soft must be a whole number from 1 to 100'],
    [['keys', 'create', '--name', 'x', '--period', 'day'], '--period needs --budget or --budget-tokens.'],
    [['keys', 'create', '--name', 'x', '--rpm', '0'], '--rpm must be a whole number at least 1'],
    [['keys', 'create', '--name', 'x', '--budget-tokens', '0'], '--budget-tokens must be a whole number at least 1'],
    [['keys', 'create', '--name', 'x', '--expires', '2027-01-01T00:00:00'], '--expires must be an ISO 8601 time with an offset'],
    [['keys', 'create', '--name', 'x', '--scopes', 'proxy,,reports'], '--scopes has an empty item'],
    [['keys', 'create', '--name', 'x', '--shrink-max-tokens=yes'], "Option '--shrink-max-tokens' does not take an argument"],
    [['keys', 'show'], 'missing ID.'],
    [['keys', 'show', 'a', 'b'], "unexpected argument 'b'."],
    [['budget', 'set', 'key_1'], 'budget set needs --limit or --tokens.'],
    [['prices', 'set', 'gpt-4', '--prompt', '0.03'], 'missing required flag --completion.'],
    [
      ['prices', 'set', 'gpt-4', '--prompt', '0,03', '--completion', '0.06'],
      "--prompt must be a decimal amount like 10 or 0.03, got '0,03'.",
    ],
    [['alerts', '--url', 'ftp://x'], "--url must be an http(s) URL, got 'ftp://x'."],
    [['help', 'frob'], "no help for 'frob'."],
  ])('%j', async (argv, message) => {
    const { code, stdout, stderr } = await cli(argv, env);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`tollgate: ${message}`);
    expect(stderr).toContain('Usage: tollgate');
    expect(double.requests).toEqual([]);
  });

  test('no operator token', async () => {
    const { code, stderr } = await cli(['keys', 'list'], { TOLLGATE_URL: double.url });
    expect(code).toBe(2);
    expect(stderr).toContain('no operator token: set TOLLGATE_ADMIN_TOKEN or pass --token.');
  });
});

describe('exit 3: the gateway cannot be reached', () => {
  test('names the URL it tried', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const { code, stderr } = await cli(['keys', 'list'], { TOLLGATE_URL: url, TOLLGATE_ADMIN_TOKEN: 't' });
    expect(code).toBe(3);
    expect(stderr).toContain(`tollgate: cannot reach the gateway at ${url} (`);
    expect(stderr).toContain('ECONNREFUSED');
  });

  test('the default URL when none is set', async () => {
    const { stderr } = await cli(['keys', 'list'], { TOLLGATE_ADMIN_TOKEN: 't' });
    // Something may listen on 8787 in a dev shell; only the message matters when nothing does.
    if (stderr.includes('cannot reach')) expect(stderr).toContain('http://127.0.0.1:8787');
  });
});

describe('help exits 0 on stdout', () => {
  test.each([
    [['help']],
    [['--help']],
    [['-h']],
    [['help', 'keys']],
    [['keys', '--help']],
    [['help', 'keys', 'create']],
    [['keys', 'create', '-h']],
    [['alerts', '--help']],
  ])('%j', async (argv) => {
    const { code, stdout, stderr } = await cli(argv, {});
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^(tollgate: operator CLI|Usage: tollgate)/);
  });

  test('command help lists its flags and examples', async () => {
    const { stdout } = await cli(['budget', 'set', '--help'], {});
    expect(stdout).toContain(
      'Usage: tollgate budget set ID [--limit AMOUNT] [--tokens N] [--period day|week|month|total] [--timezone ZONE] [--soft PCT]',
    );
    expect(stdout).toContain('Examples:');
  });
});
