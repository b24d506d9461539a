import { type AdminClient, path } from '../client';
import type { Command } from '../command';
import { ApiError } from '../errors';
import { fields, keyValues, list, table } from '../format';
import type { Output } from '../io';
import { type BudgetBody, budgetBodyFrom, windowOptions } from './budget';
import { type BudgetView, budgetLines } from './budget-view';

/** An API key as the admin API describes it (never with its secret, except on create/rotate). */
export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  allowedModels: string[] | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt?: string | null;
  options?: Record<string, unknown>;
  teamId?: string | null;
  reportTeams?: string[] | null;
}

interface CreatedKey extends KeyView {
  key: string;
}

const SECRET_WARNING = 'shown only once: store it now, the gateway keeps only its hash';

function status(key: KeyView, now = new Date()): string {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && Date.parse(key.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}

function keyLines(key: KeyView): string[] {
  return fields([
    ['name', key.name],
    ['prefix', key.prefix],
    ['status', status(key)],
    ['scopes', list(key.scopes, '-')],
    ['team', key.teamId ?? null],
    ...(key.reportTeams ? ([['reports on', key.reportTeams.join(', ')]] as const) : []),
    ['models', list(key.allowedModels)],
    ['created', key.createdAt],
    ['expires', key.expiresAt ?? 'never'],
    ...(key.revokedAt ? ([['revoked', key.revokedAt]] as const) : []),
    ['options', keyValues(key.options)],
  ]);
}

function printSecret(out: Output, secret: string): void {
  out.line(`API key (${SECRET_WARNING}):`);
  out.line(`  ${secret}`);
}

const keysCreate: Command = {
  path: ['keys', 'create'],
  summary: 'Create an API key; with --budget or --budget-tokens, also set its budget',
  options: {
    name: { type: 'string', value: 'NAME', required: true, description: 'Name shown in lists and reports' },
    scopes: { type: 'string', value: 'LIST', description: 'Comma-separated scopes: proxy, reports (gateway default: proxy)' },
    models: { type: 'string', value: 'LIST', description: 'Comma-separated models the key may call (default: all)' },
    expires: { type: 'string', value: 'TIME', description: 'Expiry, ISO 8601 (2027-01-01T00:00:00Z)' },
    budget: { type: 'string', value: 'AMOUNT', description: 'Money limit per window, a decimal like 10' },
    'budget-tokens': { type: 'string', value: 'N', description: 'Token limit per window' },
    ...windowOptions,
    rpm: { type: 'string', value: 'N', description: 'Requests per minute' },
    tpm: { type: 'string', value: 'N', description: 'Tokens per minute' },
    'shrink-max-tokens': {
      type: 'boolean',
      description: 'When the budget cannot pay for max_tokens, lower it to what the budget pays for instead of refusing',
    },
    'default-max-tokens': { type: 'string', value: 'N', description: 'Completion cap when a request sends no max_tokens' },
    'fail-open': { type: 'boolean', description: "Admit requests while the database is unreachable, within the key's last known budget" },
    team: { type: 'string', value: 'TEAM_ID', description: 'The team (cost center) its usage is billed to' },
    'report-teams': { type: 'string', value: 'LIST', description: 'For a reports key: the only teams whose usage it may read' },
  },
  examples: [
    'tollgate keys create --name ci-bot',
    'tollgate keys create --name team-a --models gpt-4,gpt-4-32k --budget 25 --period month --soft 80 --rpm 60',
    'tollgate keys create --name search-app --team team_3f…',
    'tollgate keys create --name finance-search --scopes reports --report-teams team_3f…',
  ],
  async run({ flags, client, out }) {
    const body = {
      name: flags.string('name'),
      scopes: flags.list('scopes'),
      allowedModels: flags.list('models'),
      expiresAt: flags.instant('expires'),
      teamId: flags.string('team'),
      reportTeams: flags.list('report-teams'),
      options: definedOnly({
        rpm: flags.integer('rpm', { min: 1 }),
        tpm: flags.integer('tpm', { min: 1 }),
        shrinkMaxTokens: flags.has('shrink-max-tokens') ? true : undefined,
        defaultMaxTokens: flags.integer('default-max-tokens', { min: 1 }),
        failOpen: flags.has('fail-open') ? true : undefined,
      }),
    };
    const budgetBody = budgetBodyFrom(flags, 'budget', 'budget-tokens');
    const created = await client.request<CreatedKey>('POST', '/admin/keys', definedOnly(body));
    const budget = budgetBody ? await setBudgetAfterCreate(client, out, created, budgetBody) : undefined;
    if (out.json) {
      out.warn(`tollgate: the "key" field is ${SECRET_WARNING}.`);
      return out.printJson(budget === undefined ? created : { ...created, budget });
    }
    out.line(`Created key ${created.id}.`);
    out.lines(keyLines(created));
    if (budget) {
      out.line('Budget:');
      out.lines(budgetLines(budget));
    }
    printSecret(out, created.key);
  },
};

// The key exists once POST succeeds, so a failed budget must not swallow its one-time secret.
async function setBudgetAfterCreate(client: AdminClient, out: Output, created: CreatedKey, body: BudgetBody): Promise<BudgetView> {
  try {
    return await client.request<BudgetView>('PUT', path`/admin/keys/${created.id}/budget`, body);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (out.json) {
      out.warn(`tollgate: the "key" field is ${SECRET_WARNING}.`);
      out.printJson({ ...created, budget: null });
    } else {
      out.line(`Created key ${created.id}, but its budget was NOT set.`);
      printSecret(out, created.key);
    }
    out.warn(`tollgate: the key was created but setting its budget failed; retry with 'tollgate budget set ${created.id} …'.`);
    throw error;
  }
}

function definedOnly<T extends Record<string, unknown>>(record: T): Partial<T> | undefined {
  const entries = Object.entries(record).filter(([, value]) => value !== undefined);
  return entries.length === 0 ? undefined : (Object.fromEntries(entries) as Partial<T>);
}

const keysList: Command = {
  path: ['keys', 'list'],
  summary: 'List API keys (secrets are never shown)',
  async run({ client, out }) {
    const result = await client.request<{ data: KeyView[] }>('GET', '/admin/keys');
    if (out.json) return out.printJson(result);
    if (result.data.length === 0) return out.line('No keys.');
    out.lines(
      table(
        ['ID', 'NAME', 'PREFIX', 'STATUS', 'SCOPES', 'MODELS', 'CREATED', 'EXPIRES'],
        result.data.map((key) => [
          key.id,
          key.name,
          key.prefix,
          status(key),
          list(key.scopes, '-'),
          list(key.allowedModels),
          key.createdAt,
          key.expiresAt ?? 'never',
        ]),
      ),
    );
  },
};

const keysShow: Command = {
  path: ['keys', 'show'],
  args: ['ID'],
  summary: 'Show one API key and its budget',
  async run({ args, client, out }) {
    const [id] = args as [string];
    const key = await client.request<KeyView>('GET', path`/admin/keys/${id}`);
    const budget = await client.requestOrNull<BudgetView>('GET', path`/admin/keys/${id}/budget`);
    if (out.json) return out.printJson({ ...key, budget });
    out.line(`Key ${key.id}:`);
    out.lines(keyLines(key));
    if (!budget) return out.line('Budget: none');
    out.line('Budget:');
    out.lines(budgetLines(budget));
  },
};

const keysRevoke: Command = {
  path: ['keys', 'revoke'],
  args: ['ID'],
  summary: 'Revoke an API key; it is refused from then on',
  async run({ args, client, out }) {
    const [id] = args as [string];
    const result = await client.request<{ id: string; revokedAt: string }>('DELETE', path`/admin/keys/${id}`);
    if (out.json) return out.printJson(result);
    out.line(`Revoked key ${result.id} at ${result.revokedAt}.`);
  },
};

const keysRotate: Command = {
  path: ['keys', 'rotate'],
  args: ['ID'],
  summary: 'Issue a new secret for a key, keeping its id, budget and history',
  async run({ args, client, out }) {
    const [id] = args as [string];
    const result = await client.request<{ id: string; key: string; prefix: string }>('POST', path`/admin/keys/${id}/rotate`);
    if (out.json) {
      out.warn(`tollgate: the "key" field is ${SECRET_WARNING}.`);
      return out.printJson(result);
    }
    out.line(`Rotated key ${result.id}; new prefix ${result.prefix}.`);
    printSecret(out, result.key);
  },
};

export const keyCommands: readonly Command[] = [keysCreate, keysList, keysShow, keysRevoke, keysRotate];
