import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  addPriceVersion,
  clearBudget,
  createKey,
  currentPrice,
  EPOCH,
  findKeyByHash,
  getAdminSecretHash,
  getBudget,
  getKey,
  getRequest,
  initAdminSecretHash,
  isKeyLive,
  listKeys,
  listPriceVersions,
  revokeKey,
  rotateKey,
  type Store,
  seedPricesFromConfig,
  setAdminSecretHash,
  setBudget,
  updateKey,
  updateKeyOptions,
} from '../../../src/store';
import { databases } from '../support/databases';
import { TEST_PRICES, usd } from '../support/ledger';

describe.each(databases)('repositories on $name', (database) => {
  let store: Store;
  beforeAll(async () => {
    store = await database.open();
  });
  afterAll(async () => store?.close());

  test('keys: create, find by hash, list, update, options merge, rotate, revoke', async () => {
    const created = await createKey(store, {
      id: 'key_a',
      name: 'app A',
      prefix: 'tg_abcd',
      hash: 'hash-a',
      scopes: ['chat'],
      allowedModels: ['gpt-4'],
      options: { contextPolicy: 'reject', rpm: 60 },
    });
    expect(created).toMatchObject({
      id: 'key_a',
      scopes: ['chat'],
      allowedModels: ['gpt-4'],
      options: { contextPolicy: 'reject', rpm: 60 },
      revokedAt: null,
      expiresAt: null,
    });
    expect(created.createdAt).toBeInstanceOf(Date);
    await createKey(store, { id: 'key_b', name: 'app B', prefix: 'tg_efgh', hash: 'hash-b', scopes: [] });

    expect((await findKeyByHash(store, 'hash-a'))?.id).toBe('key_a');
    expect(await findKeyByHash(store, 'nope')).toBeNull();
    expect((await listKeys(store)).map((k) => k.id)).toEqual(['key_a', 'key_b']);
    await expect(createKey(store, { id: 'key_c', name: 'dup', prefix: 'x', hash: 'hash-a', scopes: [] })).rejects.toThrow();

    expect(await updateKey(store, 'key_a', { name: 'renamed', allowedModels: null })).toMatchObject({
      name: 'renamed',
      allowedModels: null,
    });
    expect((await updateKeyOptions(store, 'key_a', { failOpen: true, rpm: null }))?.options).toEqual({
      contextPolicy: 'reject',
      failOpen: true,
    });
    expect(await updateKeyOptions(store, 'key_missing', { failOpen: true })).toBeNull();

    expect(await rotateKey(store, 'key_a', { hash: 'hash-a2', prefix: 'tg_new' })).toMatchObject({ prefix: 'tg_new', hash: 'hash-a2' });
    expect(await findKeyByHash(store, 'hash-a')).toBeNull();

    const revokedAt = new Date('2026-11-29T12:00:00Z');
    const revoked = await revokeKey(store, 'key_a', revokedAt);
    expect(revoked?.revokedAt).toEqual(revokedAt);
    expect((await revokeKey(store, 'key_a', new Date('2027-01-01T00:00:00Z')))?.revokedAt).toEqual(revokedAt);
    expect(await rotateKey(store, 'key_a', { hash: 'hash-a3', prefix: 'p' })).toBeNull();
    expect(isKeyLive(revoked!, new Date())).toBe(false);
    expect(isKeyLive((await getKey(store, 'key_b'))!, new Date())).toBe(true);
    expect(isKeyLive({ revokedAt: null, expiresAt: new Date(1000) }, new Date(1000))).toBe(false);
    expect(await revokeKey(store, 'key_missing')).toBeNull();
  });

  test('admin secret: unset, init once, replace', async () => {
    expect(await getAdminSecretHash(store)).toBeNull();
    expect(await initAdminSecretHash(store, 'h1')).toBe(true);
    expect(await initAdminSecretHash(store, 'h2')).toBe(false);
    expect(await getAdminSecretHash(store)).toBe('h1');
    await setAdminSecretHash(store, 'h3');
    expect(await getAdminSecretHash(store)).toBe('h3');
  });

  test('prices: seeding gives each unpriced model one version from the epoch and never overwrites', async () => {
    const seeded = await seedPricesFromConfig(store, TEST_PRICES);
    expect(seeded.map((p) => [p.model, p.promptPer1k, p.completionPer1k, p.effectiveFrom])).toEqual([
      ['gpt-4', usd('0.03'), usd('0.06'), EPOCH],
      ['gpt-4-32k', usd('0.06'), usd('0.12'), EPOCH],
    ]);
    expect(await seedPricesFromConfig(store, { ...TEST_PRICES, 'gpt-4': { pricePer1k: { prompt: '9', completion: '9' } } })).toEqual([]);
    expect((await currentPrice(store, 'gpt-4'))?.promptPer1k).toBe(usd('0.03'));
    // Two instances seeding at once insert one version.
    await Promise.all([
      seedPricesFromConfig(store, { new: { pricePer1k: { prompt: '1', completion: '2' } } }),
      seedPricesFromConfig(store, { new: { pricePer1k: { prompt: '1', completion: '2' } } }),
    ]);
    expect(await listPriceVersions(store, 'new')).toHaveLength(1);

    const june = new Date('2026-06-01T00:00:00Z');
    const v2 = await addPriceVersion(store, 'gpt-4', usd('0.01'), usd('0.02'), june);
    expect(await currentPrice(store, 'gpt-4', new Date(june.getTime() - 1))).toMatchObject({ promptPer1k: usd('0.03') });
    expect(await currentPrice(store, 'gpt-4', june)).toEqual(v2);
    expect(await currentPrice(store, 'unknown', june)).toBeNull();
    expect((await listPriceVersions(store, 'gpt-4')).map((p) => p.effectiveFrom)).toEqual([EPOCH, june]);
    await expect(addPriceVersion(store, 'gpt-4', 1n, 1n, june)).rejects.toThrow();
  });

  test('budgets: set, replace, clear', async () => {
    await createKey(store, { id: 'key_budget', name: 'b', prefix: 'p', hash: 'hash-budget', scopes: [] });
    expect(await getBudget(store, 'key_budget')).toBeNull();
    await setBudget(store, 'key_budget', {
      limitCost: usd('5'),
      limitTokens: null,
      period: 'month',
      timezone: 'Europe/Berlin',
      softThresholdPct: 80,
    });
    expect(await getBudget(store, 'key_budget')).toMatchObject({
      limitCost: usd('5'),
      limitTokens: null,
      period: 'month',
      timezone: 'Europe/Berlin',
      softThresholdPct: 80,
    });
    await setBudget(store, 'key_budget', { limitCost: null, limitTokens: 1_000_000, period: 'day' });
    expect(await getBudget(store, 'key_budget')).toMatchObject({
      limitCost: null,
      limitTokens: 1_000_000,
      period: 'day',
      timezone: 'UTC',
      softThresholdPct: null,
    });
    expect(await clearBudget(store, 'key_budget')).toBe(true);
    expect(await clearBudget(store, 'key_budget')).toBe(false);
  });

  test('getRequest: null for an unknown id', async () => {
    expect(await getRequest(store, 'req_unknown')).toBeNull();
  });
});
