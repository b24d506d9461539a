import { path } from '../client';
import type { Command } from '../command';
import { table } from '../format';

/** One effective-dated price version; prices are decimal strings per 1k tokens. */
interface PriceView {
  id: string;
  model: string;
  prompt: string;
  completion: string;
  effectiveFrom: string;
}

const pricesSet: Command = {
  path: ['prices', 'set'],
  args: ['MODEL'],
  summary: 'Add a price version for a model (per 1k tokens); earlier usage keeps its old price',
  options: {
    prompt: { type: 'string', value: 'AMOUNT', required: true, description: 'Price per 1k prompt tokens, a decimal like 0.03' },
    completion: { type: 'string', value: 'AMOUNT', required: true, description: 'Price per 1k completion tokens' },
    from: { type: 'string', value: 'TIME', description: 'Effective from, ISO 8601 (default: now)' },
  },
  examples: [
    'tollgate prices set gpt-4 --prompt 0.03 --completion 0.06',
    'tollgate prices set gpt-4 --prompt 0.02 --completion 0.04 --from 2026-12-01T00:00:00Z',
  ],
  async run({ args, flags, client, out }) {
    const [model] = args as [string];
    const body = { prompt: flags.money('prompt'), completion: flags.money('completion'), effectiveFrom: flags.instant('from') };
    const price = await client.request<PriceView>('PUT', path`/admin/models/${model}/price`, body);
    if (out.json) return out.printJson(price);
    out.line(
      `Price ${price.id} for ${price.model}: prompt ${price.prompt}, completion ${price.completion} per 1k tokens, effective from ${price.effectiveFrom}.`,
    );
  },
};

const pricesList: Command = {
  path: ['prices', 'list'],
  args: ['MODEL'],
  summary: "List a model's price versions",
  async run({ args, client, out }) {
    const [model] = args as [string];
    const result = await client.request<{ data: PriceView[] }>('GET', path`/admin/models/${model}/prices`);
    if (out.json) return out.printJson(result);
    if (result.data.length === 0) return out.line(`No prices for ${model}.`);
    out.lines(
      table(
        ['ID', 'MODEL', 'PROMPT/1K', 'COMPLETION/1K', 'EFFECTIVE FROM'],
        result.data.map((p) => [p.id, p.model, p.prompt, p.completion, p.effectiveFrom]),
      ),
    );
  },
};

export const priceCommands: readonly Command[] = [pricesSet, pricesList];
