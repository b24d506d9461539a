import type { Hono } from 'hono';
import { z } from 'zod';
import type { HonoEnv } from '../deps';
import { GatewayError } from '../errors';
import { formatUsd, MAX_PRICE_PER_1K, type Price, parsePricePer1k, parseUsd } from '../pricing';
import { auditedChange, recordAudit } from '../store/audit';
import { addPriceVersion, listPriceVersions } from '../store/prices';
import { findRequests } from '../store/requests';
import { auditActor } from './admin-teams';
import { readJson } from './body';
import { parseWith } from './validate';

const priceString = z
  .string()
  .regex(/^\d{1,15}(\.\d{1,9})?$/, 'must be a decimal USD string per 1k tokens such as "0.03" (at most 9 decimal places)')
  .refine((text) => parseUsd(text) <= MAX_PRICE_PER_1K, 'must be at most 10 (USD per 1k tokens)');

const priceSchema = z.strictObject({
  prompt: priceString,
  completion: priceString,
  effectiveFrom: z.iso.datetime({ offset: true }).optional(),
});

export function priceView(price: Price) {
  return {
    id: price.id,
    model: price.model,
    prompt: formatUsd(price.promptPer1k),
    completion: formatUsd(price.completionPer1k),
    effectiveFrom: price.effectiveFrom.toISOString(),
  };
}

/** `/admin/models/:model/price(s)`: effective-dated price versions; `/admin/requests/:id`: one ledger row. */
export function registerAdminModelRoutes(app: Hono<HonoEnv>): void {
  app.put('/admin/models/:model/price', async (c) => {
    const { deps } = c.var;
    const model = c.req.param('model');
    if (!Object.hasOwn(deps.config.models, model))
      throw new GatewayError(404, `The model '${model}' is not configured.`, { code: 'model_not_found', param: 'model' });
    const body = parseWith(priceSchema, await readJson(c));
    const effectiveFrom = body.effectiveFrom ? new Date(body.effectiveFrom) : deps.now();
    const price = await auditedChange(deps.store, async (tx) => {
      const added = await addPriceVersion(tx, model, parsePricePer1k(body.prompt), parsePricePer1k(body.completion), effectiveFrom);
      await recordAudit(tx, {
        actor: auditActor(c),
        action: 'price.add',
        target: model,
        detail: priceView(added),
        requestId: c.var.requestId,
      });
      return added;
    });
    return c.json(priceView(price), 201);
  });

  app.get('/admin/models/:model/prices', async (c) => {
    const versions = await listPriceVersions(c.var.deps.store, c.req.param('model'));
    return c.json({ object: 'list', data: versions.map(priceView) });
  });

  // Request ids are per key: with several keys holding one id, `?keyId=` says which.
  app.get('/admin/requests/:requestId', async (c) => {
    const requestId = c.req.param('requestId');
    const rows = await findRequests(c.var.deps.store, requestId, c.req.query('keyId') || undefined);
    if (rows.length === 0)
      throw new GatewayError(404, `No request '${requestId}' in the ledger.`, { code: 'request_not_found', param: 'requestId' });
    const keys = new Set(rows.map((row) => row.keyId));
    if (keys.size > 1) {
      throw new GatewayError(
        409,
        `Request id '${requestId}' is held by ${keys.size} keys (${[...keys].join(', ')}); add ?keyId= to say which.`,
        { code: 'ambiguous_request_id', param: 'keyId' },
      );
    }
    return c.json(rows[0]);
  });
}
