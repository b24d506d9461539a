import { BUDGET_PERIODS } from '../../budget';
import { CsrfField } from './page';

// The operator's forms on the budgets page. Each posts to /dashboard/keys… with the session's CSRF
// token (budget-actions.tsx); none needs JavaScript (a <details> opens each one).

type Row = Record<string, unknown>;

function BudgetForm(props: { keyId: string; row: Row | null; csrf: string }) {
  const row = props.row;
  return (
    <form class="inline" method="post" action={`/dashboard/keys/${encodeURIComponent(props.keyId)}/budget`}>
      <CsrfField token={props.csrf} />
      <label>
        Limit (USD)
        <input name="limit" inputmode="decimal" value={row?.limit === null || row === null ? '' : String(row.limit)} placeholder="25.00" />
      </label>
      <label>
        Limit (tokens)
        <input name="limitTokens" inputmode="numeric" value={row?.limitTokens == null ? '' : String(row.limitTokens)} />
      </label>
      <label>
        Period
        <select name="period">
          {BUDGET_PERIODS.map((period) => (
            <option value={period} selected={period === (row?.period ?? 'month')}>
              {period}
            </option>
          ))}
        </select>
      </label>
      <label>
        Time zone
        <input name="timezone" value={String(row?.timezone ?? 'UTC')} list="zones" />
      </label>
      <label>
        Soft threshold (%)
        <input name="softThresholdPct" inputmode="numeric" value={row?.softThresholdPct == null ? '' : String(row.softThresholdPct)} />
      </label>
      <button type="submit">{row ? 'Replace budget' : 'Set budget'}</button>
    </form>
  );
}

/** Change or remove a key's budget, rotate or revoke the key (revoking asks for a tick first). */
export function KeyActions(props: { keyId: string; keyName: string; row: Row | null; csrf: string }) {
  const action = (verb: string) => `/dashboard/keys/${encodeURIComponent(props.keyId)}/${verb}`;
  return (
    <div class="actions" data-actions={props.keyId}>
      <details>
        <summary>{props.row ? `Change the budget of ${props.keyName}` : `Set a budget for ${props.keyName}`}</summary>
        <BudgetForm keyId={props.keyId} row={props.row} csrf={props.csrf} />
      </details>
      {props.row ? (
        <form method="post" action={action('budget/delete')}>
          <CsrfField token={props.csrf} />
          <button type="submit" class="secondary">
            Remove budget
          </button>
        </form>
      ) : null}
      <form method="post" action={action('rotate')}>
        <CsrfField token={props.csrf} />
        <button type="submit" class="secondary">
          Rotate key
        </button>
      </form>
      <details>
        <summary>{`Revoke ${props.keyName}…`}</summary>
        <form class="inline" method="post" action={action('revoke')}>
          <CsrfField token={props.csrf} />
          <label>
            <span>
              <input type="checkbox" name="confirm" value="yes" required /> Refuse every request of this key from now on
            </span>
          </label>
          <button type="submit" class="danger">
            Revoke
          </button>
        </form>
      </details>
    </div>
  );
}

/** A new key: name, scopes, team, and a budget to set with it. */
export function CreateKeyForm(props: { csrf: string; teams: { id: string; name: string }[] }) {
  return (
    <details>
      <summary>Create a key</summary>
      <form class="inline" method="post" action="/dashboard/keys">
        <CsrfField token={props.csrf} />
        <label>
          Name
          <input name="name" required maxlength={200} />
        </label>
        <fieldset>
          <legend class="small muted">Scopes</legend>
          <label>
            <span>
              <input type="checkbox" name="scopes" value="proxy" checked /> proxy (calls /v1)
            </span>
          </label>
          <label>
            <span>
              <input type="checkbox" name="scopes" value="reports" /> reports
            </span>
          </label>
        </fieldset>
        <label>
          Team
          <select name="teamId">
            <option value="">No team</option>
            {props.teams.map((team) => (
              <option value={team.id}>{team.name}</option>
            ))}
          </select>
        </label>
        <label>
          Budget (USD, optional)
          <input name="limit" inputmode="decimal" />
        </label>
        <label>
          Period
          <select name="period">
            {BUDGET_PERIODS.map((period) => (
              <option value={period} selected={period === 'month'}>
                {period}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Create key</button>
      </form>
    </details>
  );
}
