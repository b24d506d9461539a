import type { Child } from 'hono/jsx';
import { budgetsReport } from '../../reports';
import { picodollarsOf } from '../../reports/overview';
import { listKeys } from '../../store/keys';
import { listTeams, teamDirectory } from '../../store/teams';
import { CreateKeyForm, KeyActions } from './budget-forms';
import { UtilisationBar } from './charts';
import { csvUrl } from './filters';
import { count, localTime, pct, usd } from './format';
import { scopeOf } from './guard';
import { CsvLink, type DashboardContext, Layout, Notice, PAGE_HEADERS } from './page';

// Budgets: every budgeted key and each team (its keys summed) with a utilisation bar, the soft
// threshold, the burn-rate projection to the end of the period and a warning for keys projected
// to run out; keys without a budget listed below. The operator changes budgets and keys here.

type Row = Record<string, unknown>;

const DONE: Record<string, string> = {
  'budget-set': 'Budget saved: it applies from the next request.',
  'budget-removed': 'Budget removed: the key is unlimited from the next request.',
  revoked: 'Key revoked: its next request is refused.',
};

/** `a / b` in percent for drawing (0 when there is no limit). */
function drawPct(part: string | number | null, whole: string | number | null): number {
  if (part === null || whole === null) return 0;
  const p = typeof part === 'number' ? BigInt(part) : picodollarsOf(part);
  const w = typeof whole === 'number' ? BigInt(whole) : picodollarsOf(whole);
  return w <= 0n ? 0 : Number((p * 10_000n) / w) / 100;
}

/** How a row stands: over its limit, projected to run out in its period, past its soft threshold, or fine. */
function budgetState(row: Row): 'over' | 'warn' | 'soft' | 'ok' {
  const used = Number(row.utilisationPct ?? row.tokenUtilisationPct ?? 0);
  if (used >= 100) return 'over';
  if (row.projectedExhaustedAt !== null && row.projectedExhaustedAt !== undefined) return 'warn';
  if (row.softThresholdPct !== null && used >= Number(row.softThresholdPct)) return 'soft';
  return 'ok';
}

function StateTag(props: { row: Row; tz: string }) {
  const state = budgetState(props.row);
  if (state === 'over') return <span class="tag over">at or over its limit</span>;
  if (state === 'warn')
    return <span class="tag warn">{`projected to run out ${localTime(String(props.row.projectedExhaustedAt), props.tz)}`}</span>;
  if (state === 'soft') return <span class="tag warn">past its soft threshold</span>;
  return null;
}

function BudgetCard(props: { row: Row; tz: string; actions?: Child }) {
  const { row } = props;
  const money = row.limit !== null;
  const state = budgetState(row);
  const id = row.scope === 'key' ? String(row.keyId) : String(row.teamId);
  const title = row.scope === 'key' ? String(row.keyName) : String(row.teamName);
  const utilisation = (money ? row.utilisationPct : row.tokenUtilisationPct) as string | null;
  const label = money
    ? `${title}: ${usd(row.spent as string)} spent and ${usd(row.reserved as string)} reserved of ${usd(row.limit as string)} (${pct(utilisation)})`
    : `${title}: ${count(row.spentTokens as number)} tokens of ${count(row.limitTokens as number)} (${pct(utilisation)})`;
  return (
    <article
      class={`budget ${state === 'soft' ? 'warn' : state === 'ok' ? '' : state}`}
      id={`${row.scope}-${id}`}
      data-budget={`${row.scope}:${id}`}
      data-state={state}
      data-limit={String(row.limit ?? '')}
      data-spent={String(row.spent)}
      data-utilisation={utilisation ?? ''}
    >
      <h3>
        <span>
          {title}{' '}
          {row.scope === 'key' ? (
            <small class="mono muted">{id}</small>
          ) : (
            <small class="muted">{`team · ${count(row.keys as number)} keys`}</small>
          )}
        </span>
        <StateTag row={row} tz={props.tz} />
      </h3>
      <UtilisationBar
        utilisationPct={utilisation}
        spentPct={money ? drawPct(row.spent as string, row.limit as string) : drawPct(row.spentTokens as number, row.limitTokens as number)}
        softThresholdPct={row.softThresholdPct === null ? null : Number(row.softThresholdPct)}
        projectedPct={(row.projectedUtilisationPct as string | null) ?? null}
        label={label}
      />
      <dl>
        <dt>Spent</dt>
        <dd>{money ? `${usd(row.spent as string)} of ${usd(row.limit as string)} · reserved ${usd(row.reserved as string)}` : '—'}</dd>
        <dt>Utilisation</dt>
        <dd>
          {pct(utilisation)}
          {row.softThresholdPct !== null ? ` · soft threshold ${row.softThresholdPct}%` : ''}
        </dd>
        {row.limitTokens !== null ? (
          <>
            <dt>Tokens</dt>
            <dd>{`${count(row.spentTokens as number)} of ${count(row.limitTokens as number)} (${pct(row.tokenUtilisationPct as string | null)})`}</dd>
          </>
        ) : null}
        <dt>Period</dt>
        <dd>
          {row.periodStart
            ? `${row.period}, ${localTime(String(row.periodStart), props.tz)} to ${localTime(String(row.periodEnd), props.tz)}`
            : String(row.period)}
          {row.timezone ? ` (${row.timezone})` : ''}
        </dd>
        <dt>Burn rate</dt>
        <dd>{row.burnRatePerDay === null ? '—' : `${usd(row.burnRatePerDay as string)} per day`}</dd>
        <dt>Projected</dt>
        <dd>
          {row.projectedSpend === null
            ? '—'
            : `${usd(row.projectedSpend as string)} by the period's end (${pct(row.projectedUtilisationPct as string | null)})`}
        </dd>
        <dt>Runs out</dt>
        <dd data-exhausted-at={String(row.projectedExhaustedAt ?? '')}>
          {row.projectedExhaustedAt ? localTime(String(row.projectedExhaustedAt), props.tz) : 'not within this period at this rate'}
        </dd>
      </dl>
      {props.actions}
    </article>
  );
}

/** `GET /dashboard/budgets` (also re-rendered with an error when an operator's change is refused). */
export async function budgetsPage(c: DashboardContext, refused?: { status: 400 | 403 | 404 | 409; message: string }) {
  const { deps, caller, csrf } = c.var;
  const now = deps.now();
  const scope = scopeOf(c);
  const team = c.req.query('team') || null;
  const tz = c.req.query('tz') || 'UTC';
  const params: Record<string, string[]> = team ? { team: [team] } : {};
  const operator = caller.kind === 'operator';
  const [report, directory, teams, keys] = await Promise.all([
    budgetsReport(deps.store, params, scope, now),
    teamDirectory(deps.store, scope.teams),
    listTeams(deps.store),
    operator ? listKeys(deps.store) : null,
  ]);
  const rows = report.json.rows as Row[];
  const keyRows = rows.filter((row) => row.scope === 'key');
  const teamRows = rows.filter((row) => row.scope === 'team');
  const budgeted = new Set(keyRows.map((row) => String(row.keyId)));
  const visibleTeams = directory.teams.map((t) => ({ id: t.id, name: t.name }));
  const unbudgeted = (keys ?? directory.keys.map((key) => ({ ...key, revokedAt: key.revoked ? now : null })))
    .filter((key) => key.revokedAt === null && !budgeted.has(key.id))
    .filter((key) => team === null || (key.teamId ?? 'none') === team);
  const done = DONE[c.req.query('done') ?? ''];
  return c.html(
    <Layout c={c} title="Budgets" current="/dashboard/budgets">
      <div class="head-row">
        <h1>Budgets</h1>
        <CsvLink href={csvUrl('/reports/budgets', params)} what="budgets" />
      </div>
      {done ? <Notice kind="info">{done}</Notice> : null}
      {refused ? (
        <Notice kind="error">
          <span data-refused>{refused.message}</span>
        </Notice>
      ) : null}
      <section class="card" aria-label="Filters">
        <form class="filters" method="get" action="/dashboard/budgets">
          <label>
            Team
            <select name="team">
              <option value="">All teams</option>
              {visibleTeams.map((t) => (
                <option value={t.id} selected={t.id === team}>
                  {t.name}
                </option>
              ))}
              {scope.teams === null ? (
                <option value="none" selected={team === 'none'}>
                  Keys in no team
                </option>
              ) : null}
            </select>
          </label>
          <label>
            Time zone for dates
            <input name="tz" value={tz} list="zones" />
          </label>
          <button type="submit">Apply</button>
        </form>
        <datalist id="zones">
          {['UTC', ...Intl.supportedValuesOf('timeZone')].map((zone) => (
            <option value={zone} />
          ))}
        </datalist>
        {operator ? <CreateKeyForm csrf={csrf} teams={teams.map((t) => ({ id: t.id, name: t.name }))} /> : null}
      </section>
      <p class="muted small">
        The bar is spent (dark) and reserved (light) against the limit; the solid tick is the soft threshold, the dashed one the spend
        projected at the period's end ({String(report.json.projection)}).
      </p>
      <h2>Teams</h2>
      {teamRows.length === 0 ? <p class="muted">No team has a budgeted key.</p> : null}
      <div class="budgets">
        {teamRows.map((row) => (
          <BudgetCard row={row} tz={tz} />
        ))}
      </div>
      <h2 class="spaced">Keys</h2>
      {keyRows.length === 0 ? <p class="muted">No key has a budget.</p> : null}
      <div class="budgets">
        {keyRows.map((row) => (
          <BudgetCard
            row={row}
            tz={tz}
            actions={operator ? <KeyActions keyId={String(row.keyId)} keyName={String(row.keyName)} row={row} csrf={csrf} /> : null}
          />
        ))}
      </div>
      <section class="card spaced" aria-labelledby="unbudgeted-h">
        <h2 id="unbudgeted-h">Keys without a budget</h2>
        {unbudgeted.length === 0 ? <p class="muted">None.</p> : null}
        <ul class="plain">
          {unbudgeted.map((key) => (
            <li data-unbudgeted={key.id}>
              <strong>{key.name}</strong> <small class="mono muted">{key.id}</small>{' '}
              <small class="muted">{visibleTeams.find((t) => t.id === key.teamId)?.name ?? (key.teamId ? '' : 'no team')}</small>
              {operator ? <KeyActions keyId={key.id} keyName={key.name} row={null} csrf={csrf} /> : null}
            </li>
          ))}
        </ul>
      </section>
    </Layout>,
    refused?.status ?? 200,
    PAGE_HEADERS,
  );
}
