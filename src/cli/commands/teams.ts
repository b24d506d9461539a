import { path } from '../client';
import type { Command } from '../command';
import { UsageError } from '../errors';
import { fields, table } from '../format';

/** A team as `/admin/teams` describes it. */
interface TeamView {
  id: string;
  name: string;
  costCenter: string | null;
  createdAt: string;
  keyIds?: string[];
}

function teamLines(team: TeamView): string[] {
  return fields([
    ['name', team.name],
    ['cost center', team.costCenter],
    ['created', team.createdAt],
    ...(team.keyIds ? ([['keys', team.keyIds.length === 0 ? 'none' : team.keyIds.join(', ')]] as const) : []),
  ]);
}

const teamsCreate: Command = {
  path: ['teams', 'create'],
  summary: 'Create a team (a cost center that keys are billed to)',
  options: {
    name: { type: 'string', value: 'NAME', required: true, description: 'Name shown in reports and statements (unique)' },
    'cost-center': { type: 'string', value: 'CODE', description: "The finance system's code for it" },
  },
  examples: ['tollgate teams create --name Search --cost-center CC-4100'],
  async run({ flags, client, out }) {
    const team = await client.request<TeamView>('POST', '/admin/teams', {
      name: flags.string('name'),
      costCenter: flags.string('cost-center'),
    });
    if (out.json) return out.printJson(team);
    out.line(`Created team ${team.id}.`);
    out.lines(teamLines(team));
  },
};

const teamsList: Command = {
  path: ['teams', 'list'],
  summary: 'List teams with their keys',
  async run({ client, out }) {
    const result = await client.request<{ data: TeamView[] }>('GET', '/admin/teams');
    if (out.json) return out.printJson(result);
    if (result.data.length === 0) return out.line('No teams.');
    out.lines(
      table(
        ['ID', 'NAME', 'COST CENTER', 'KEYS'],
        result.data.map((team) => [team.id, team.name, team.costCenter, team.keyIds?.length ?? 0]),
      ),
    );
  },
};

const teamsShow: Command = {
  path: ['teams', 'show'],
  args: ['ID'],
  summary: 'Show one team and its keys',
  async run({ args, client, out }) {
    const team = await client.request<TeamView>('GET', path`/admin/teams/${args[0]!}`);
    if (out.json) return out.printJson(team);
    out.line(`Team ${team.id}:`);
    out.lines(teamLines(team));
  },
};

const teamsRename: Command = {
  path: ['teams', 'rename'],
  args: ['ID'],
  summary: "Rename a team or change its cost-center code (history follows the team's id)",
  options: {
    name: { type: 'string', value: 'NAME', description: 'The new name' },
    'cost-center': { type: 'string', value: 'CODE', description: 'The new cost-center code' },
  },
  examples: ['tollgate teams rename team_3f… --name "Search & Ranking"'],
  async run({ args, flags, client, out }) {
    const body = { name: flags.string('name'), costCenter: flags.string('cost-center') };
    if (body.name === undefined && body.costCenter === undefined) throw new UsageError('give --name and/or --cost-center.');
    const team = await client.request<TeamView>('PATCH', path`/admin/teams/${args[0]!}`, body);
    if (out.json) return out.printJson(team);
    out.line(`Updated team ${team.id}.`);
    out.lines(teamLines(team));
  },
};

const teamsMove: Command = {
  path: ['teams', 'move'],
  args: ['KEY_ID', 'TEAM_ID'],
  summary: "Move a key to a team ('none': to no team), from its next request; past usage stays with the team it was billed to",
  examples: ['tollgate teams move key_9a64… team_3f…', 'tollgate teams move key_9a64… none'],
  async run({ args, client, out }) {
    const [keyId, teamId] = args as [string, string];
    const key = await client.request<{ id: string; teamId: string | null }>('PATCH', path`/admin/keys/${keyId}`, {
      teamId: teamId === 'none' ? null : teamId,
    });
    if (out.json) return out.printJson(key);
    out.line(key.teamId ? `Key ${key.id} is now billed to team ${key.teamId}.` : `Key ${key.id} is now in no team.`);
  },
};

export const teamCommands: readonly Command[] = [teamsCreate, teamsList, teamsShow, teamsRename, teamsMove];
