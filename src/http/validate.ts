import type { z } from 'zod';
import { badRequest } from '../errors';

/** Parses an admin body with a zod schema; the 400 names the first bad field. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = issue.path.join('.') || null;
  throw badRequest(`Invalid ${param ? `'${param}'` : 'body'}: ${issue.message}`, param, 'invalid_value');
}
