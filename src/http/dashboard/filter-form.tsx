import type { Child } from 'hono/jsx';
import { FINAL_STATUSES } from '../../ledger';
import type { ReportScope } from '../../reports';
import { teamDirectory } from '../../store/teams';
import { presetRanges, queryOf, type ViewFilters } from './filters';
import type { DashboardContext } from './page';

// The filter bar shared by the overview and the requests pages: a GET form, so every view is a
// URL. Team and key choices come from the reader's own directory (a team-limited key sees only
// its teams), models from the config.

export interface FilterChoices {
  teams: { id: string; name: string }[];
  /** Keys in no team may be picked (unlimited readers only). */
  noTeam: boolean;
  keys?: { id: string; name: string }[];
  models: string[];
  tagKeys: string[];
}

/** The reader's teams and keys (as `GET /reports/teams` lists them), the config's models and tag keys. */
export async function filterChoices(c: DashboardContext, scope: ReportScope, withKeys: boolean): Promise<FilterChoices> {
  const directory = await teamDirectory(c.var.deps.store, scope.teams);
  return {
    teams: directory.teams.map((team) => ({ id: team.id, name: team.name })),
    noTeam: scope.teams === null,
    ...(withKeys ? { keys: directory.keys.map((key) => ({ id: key.id, name: key.revoked ? `${key.name} (revoked)` : key.name })) } : {}),
    models: Object.keys(c.var.deps.config.models).sort(),
    tagKeys: [...c.var.deps.config.gateway.tags.allowed].sort(),
  };
}

function Select(props: { name: string; label: string; value: string | null; options: { value: string; label: string }[]; any?: string }) {
  return (
    <label>
      {props.label}
      <select name={props.name}>
        {props.any !== undefined ? <option value="">{props.any}</option> : null}
        {props.options.map((option) => (
          <option value={option.value} selected={option.value === props.value}>
            {option.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * The filters as a form; `extra` adds page-specific fields (bucket, stack, order) before the button.
 * Preset ranges keep every other filter.
 */
export function FilterForm(props: {
  action: string;
  filters: ViewFilters;
  choices: FilterChoices;
  now: Date;
  keep: Record<string, string>;
  status?: boolean;
  extra?: Child;
}) {
  const { filters, choices } = props;
  const zones = Intl.supportedValuesOf('timeZone');
  const presets = presetRanges(filters.tz, props.now);
  const query = (from: string, to: string) => {
    const params: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(props.keep)) params[name] = [value];
    params.from = [from];
    params.to = [to];
    return queryOf(params);
  };
  return (
    <section class="card" aria-label="Filters">
      <form class="filters" method="get" action={props.action}>
        <label>
          From
          <input type="date" name="from" value={filters.from} required />
        </label>
        <label>
          To (not included)
          <input type="date" name="to" value={filters.to} required />
        </label>
        <label>
          Time zone
          <input name="tz" value={filters.tz} list="zones" size={16} />
        </label>
        <datalist id="zones">
          {['UTC', ...zones].map((zone) => (
            <option value={zone} />
          ))}
        </datalist>
        <Select
          name="team"
          label="Team"
          value={filters.team}
          any="All teams"
          options={[
            ...choices.teams.map((team) => ({ value: team.id, label: team.name })),
            ...(choices.noTeam ? [{ value: 'none', label: 'Keys in no team' }] : []),
          ]}
        />
        {choices.keys ? (
          <Select
            name="key"
            label="Key"
            value={filters.key}
            any="All keys"
            options={choices.keys.map((key) => ({ value: key.id, label: key.name }))}
          />
        ) : null}
        <Select
          name="model"
          label="Model"
          value={filters.model}
          any="All models"
          options={choices.models.map((model) => ({ value: model, label: model }))}
        />
        {props.status ? (
          <Select
            name="status"
            label="Status"
            value={filters.status}
            any="Any status"
            options={FINAL_STATUSES.map((status) => ({ value: status, label: status }))}
          />
        ) : null}
        {choices.tagKeys.map((name) => (
          <label>
            {`Tag ${name}`}
            <input name={`tag:${name}`} value={filters.tags.find((tag) => tag.name === name)?.value ?? ''} size={10} />
          </label>
        ))}
        {props.extra}
        <button type="submit">Apply</button>
      </form>
      <nav class="presets" aria-label="Ranges">
        {presets.map((preset) => (
          <a href={`${props.action}${query(preset.from, preset.to)}`}>{preset.label}</a>
        ))}
      </nav>
    </section>
  );
}
