import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { importMap, LAYERS, layerViolations } from '../../scripts/import-map';

const srcDir = fileURLToPath(new URL('../../src', import.meta.url));

describe('the rooms of src/', () => {
  test('no room imports a room above it or beside it, so there are no cycles', () => {
    expect(layerViolations(importMap(srcDir))).toEqual([]);
  });

  test('every room is placed in a layer', () => {
    const placed = new Set(LAYERS.flat());
    expect([...importMap(srcDir).keys()].filter((room) => !placed.has(room))).toEqual([]);
  });

  test('the pure rooms import no database, HTTP or runtime code', () => {
    const map = importMap(srcDir);
    for (const room of ['pricing', 'ledger', 'tokenize', 'context', 'budget']) {
      expect(
        [...(map.get(room) ?? [])].filter((to) => ['store', 'usage', 'http', 'proxy', 'runtime', 'deps'].includes(to)),
        room,
      ).toEqual([]);
    }
  });
});
