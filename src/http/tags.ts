import type { Config } from '../config';
import { badRequest } from '../errors';
import type { Tags } from '../ledger';
import { hasControlCharacters } from '../proxy/shape';

/** The longest OpenAI `user` value kept as the `user` tag. */
export const MAX_USER_LENGTH = 256;

/**
 * A request's tags: `x-tollgate-tags: project=search,env=prod`, keys allowlisted in config
 * (`gateway.tags`), plus the OpenAI `user` field as `user`. Values are bounded in length and
 * count; an unknown key is refused (400) or dropped, as configured.
 *
 * @example parseTags('project=search,env=prod', undefined, config) // { env: 'prod', project: 'search' }
 */
export function parseTags(header: string | undefined, user: string | undefined, config: Config): Tags {
  const rules = config.gateway.tags;
  const tags: Record<string, string> = {};
  if (header !== undefined && header.trim() !== '') {
    const pairs = header.split(',');
    if (pairs.length > rules.maxTags) throw tagError(`at most ${rules.maxTags} tags are accepted`);
    for (const pair of pairs) {
      const at = pair.indexOf('=');
      const key = (at === -1 ? pair : pair.slice(0, at)).trim();
      const value = at === -1 ? '' : pair.slice(at + 1).trim();
      if (at === -1 || key === '' || value === '') throw tagError(`'${pair.trim()}' is not key=value`);
      if (!rules.allowed.includes(key) || key === 'user') {
        if (rules.unknown === 'drop') continue;
        throw tagError(`the tag key '${key}' is not allowed (allowed: ${rules.allowed.join(', ') || 'none'})`);
      }
      if (value.length > rules.maxValueLength || hasControlCharacters(value))
        throw tagError(`the value of '${key}' must be at most ${rules.maxValueLength} characters, without control characters`);
      if (Object.hasOwn(tags, key)) throw tagError(`the tag key '${key}' is given twice`);
      tags[key] = value;
    }
  }
  if (user !== undefined && user !== '') {
    if (user.length > MAX_USER_LENGTH || hasControlCharacters(user)) {
      throw badRequest(`Invalid 'user': at most ${MAX_USER_LENGTH} characters, without control characters.`, 'user', 'invalid_value');
    }
    tags.user = user;
  }
  // Sorted keys: one tag set is one rollup row, whatever order the client wrote it in.
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : 1)));
}

const tagError = (detail: string) => badRequest(`Invalid 'x-tollgate-tags' header: ${detail}.`, 'x-tollgate-tags', 'invalid_tags');
