import { parseArgs } from 'node:util';
import { UsageError } from './errors';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Placeholder shown in help, e.g. `NAME` in `--name NAME`. */
  value?: string;
  short?: string;
  required?: boolean;
  /** May be given more than once (read with `Flags.strings`). */
  multiple?: boolean;
  description: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

type Values = Record<string, string | boolean | string[] | undefined>;

// Money travels as the decimal string the operator typed: parsing it to a float could change it.
const MONEY = /^\d+(\.\d+)?$/;
const INTEGER = /^\d+$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses flags and positionals strictly: an unknown flag or a missing value is a usage error. */
export function parseFlags(argv: readonly string[], specs: OptionSpecs): { flags: Flags; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    return { flags: new Flags(values as Values), positionals };
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(firstSentence(error.message));
    throw error;
  }
}

function isParseArgsError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

// Node appends advice about `--` and `=` forms; the first sentence is the part that helps here.
function firstSentence(message: string): string {
  const match = /^.*?\.(?=\s|$)/s.exec(message);
  return match ? match[0] : message;
}

/** Typed, validated access to parsed flag values; every getter returns undefined when absent. */
export class Flags {
  constructor(private readonly values: Values) {}

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  bool(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (Array.isArray(value)) throw new UsageError(`--${name} may be given once.`);
    if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} needs a value.`);
    return value;
  }

  /** A non-negative decimal amount, kept as the exact string given (e.g. "10", "0.000015"). */
  money(name: string): string | undefined {
    const value = this.string(name);
    if (value !== undefined && !MONEY.test(value)) {
      throw new UsageError(`--${name} must be a decimal amount like 10 or 0.03, got '${value}'.`);
    }
    return value;
  }

  integer(name: string, range: { min?: number; max?: number } = {}): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
    if (!INTEGER.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      const bounds = range.max === undefined ? `at least ${min}` : `from ${min} to ${max}`;
      throw new UsageError(`--${name} must be a whole number ${bounds}, got '${value}'.`);
    }
    return n;
  }

  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value !== undefined && !choices.includes(value as T)) {
      throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${value}'.`);
    }
    return value as T | undefined;
  }

  /** Every value of a flag that may repeat (`--tag a=1 --tag b=2`). */
  strings(name: string): string[] {
    const value = this.values[name];
    const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
    for (const item of values) if (typeof item !== 'string' || item.trim() === '') throw new UsageError(`--${name} needs a value.`);
    return values as string[];
  }

  /** A comma-separated list: `proxy,reports` -> ['proxy', 'reports']. */
  list(name: string): string[] | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const items = value.split(',').map((item) => item.trim());
    if (items.some((item) => item === '')) throw new UsageError(`--${name} has an empty item in '${value}'.`);
    return items;
  }

  /**
   * An instant as ISO 8601 with an explicit offset, or a bare date meaning UTC midnight; sent
   * normalised to UTC (`2027-01-01T00:00:00.000Z`) so the gateway sees one format.
   */
  instant(name: string): string | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const parsed = DATE_ONLY.test(value) || DATE_TIME.test(value) ? new Date(value) : null;
    if (!parsed || Number.isNaN(parsed.getTime())) {
      throw new UsageError(`--${name} must be an ISO 8601 time with an offset (2027-01-01T00:00:00Z) or a date, got '${value}'.`);
    }
    return parsed.toISOString();
  }

  /** An IANA time zone name such as Europe/Berlin, checked against this runtime's zone data. */
  timezone(name: string): string | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: value });
    } catch {
      throw new UsageError(`--${name} must be an IANA time zone like UTC or Europe/Berlin, got '${value}'.`);
    }
    return value;
  }
}
