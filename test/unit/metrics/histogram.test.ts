import { Histogram, Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { TalliedHistogram } from '../../../src/metrics/histogram';

// The tallied histogram must render exactly what prom-client's own renders for the same observations.
describe('TalliedHistogram', () => {
  const buckets = [0.005, 0.025, 0.1, 1];
  const values = [0, 0.005, 0.0050001, 0.02, 0.1, 0.5, 1, 3, 1e9, 0.025];

  test('renders the text prom-client renders: cumulative buckets (le inclusive), +Inf, sum and count, per label value', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const tallied = new TalliedHistogram({ name: 'x_seconds', help: 'Test', labelName: 'replica', buckets, registry: ours });
    const reference = new Histogram({ name: 'x_seconds', help: 'Test', labelNames: ['replica'], buckets, registers: [theirs] });
    for (const [index, value] of values.entries()) {
      const replica = index % 3 === 0 ? 'gpu-a' : 'gpu-b';
      tallied.child(replica).observe(value);
      reference.labels(replica).observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_seconds_bucket{le="0.005",replica="gpu-a"} 1');
  });

  test('without a label, and with nothing observed', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const tallied = new TalliedHistogram({ name: 'y_seconds', help: 'Test', buckets, registry: ours });
    const reference = new Histogram({ name: 'y_seconds', help: 'Test', buckets, registers: [theirs] });
    for (const value of values) {
      tallied.observe(value);
      reference.observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const empty = new Registry();
    new TalliedHistogram({ name: 'z_seconds', help: 'Test', buckets, registry: empty });
    expect(await empty.metrics()).toBe('# HELP z_seconds Test\n# TYPE z_seconds histogram\n');
  });
});
