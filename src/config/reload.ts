import { parsePricePer1k } from '../pricing';
import type { Config } from './schema';

/** What a reload did, or why it changed nothing. */
export type ReloadReport =
  | {
      ok: true;
      models: string[];
      replicas: string[];
      /** Models given a new price version, effective from the reload. */
      repriced: string[];
    }
  | { ok: false; message: string };

/**
 * Models whose price in `next` is not the one in `previous` (or that `previous` did not have):
 * the reload gives them a new effective-dated version, as `tollgate prices set` would. A price
 * the file did not change is left alone, so one set through the admin API is not undone.
 *
 * @example changedPrices(running, fromFile) // ['gpt-4']
 */
export function changedPrices(previous: Config, next: Config): string[] {
  return Object.entries(next.models)
    .filter(([name, model]) => {
      const before = Object.hasOwn(previous.models, name) ? previous.models[name]!.pricePer1k : undefined;
      return (
        before === undefined ||
        parsePricePer1k(before.prompt) !== parsePricePer1k(model.pricePer1k.prompt) ||
        parsePricePer1k(before.completion) !== parsePricePer1k(model.pricePer1k.completion)
      );
    })
    .map(([name]) => name);
}
