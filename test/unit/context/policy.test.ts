import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../../src/config';
import { type ContextCandidate, contextExceededMessage, planContext } from '../../../src/context';

const config = loadConfig(undefined);
const base = (promptTokens: number): ContextCandidate => ({ name: 'gpt-4', model: config.models['gpt-4']!, promptTokens });
const extended = (promptTokens: number): ContextCandidate => ({ name: 'gpt-4-32k', model: config.models['gpt-4-32k']!, promptTokens });

describe('planContext', () => {
  test.each([
    // prompt, max_tokens, policy, served, forwarded max
    [1000, 500, 'route', 'gpt-4', 500],
    [8000, 192, 'route', 'gpt-4', 192],
    [8000, 193, 'route', 'gpt-4-32k', 193],
    [1000, undefined, 'route', 'gpt-4', 7192],
    [8192, undefined, 'route', 'gpt-4-32k', 24576],
    [30000, 2768, 'route', 'gpt-4-32k', 2768],
  ] as const)('prompt %i + max %s under %s → %s with max %i', (prompt, max, policy, served, forwarded) => {
    const decision = planContext([base(prompt), extended(prompt)], max, policy);
    expect(decision.fits).toBe(true);
    if (!decision.fits) return;
    expect(decision.served.name).toBe(served);
    expect(decision.maxCompletionTokens).toBe(forwarded);
    expect(decision.routed).toBe(served !== 'gpt-4');
  });

  test.each([
    [8000, 193, 'reject', 8193, true],
    [30000, 2769, 'route', 32769, false],
    [8192, undefined, 'reject', 8192, true],
  ] as const)('prompt %i + max %s under %s is refused with total %i', (prompt, max, policy, total, extendedWouldFit) => {
    const decision = planContext([base(prompt), extended(prompt)], max, policy);
    expect(decision.fits).toBe(false);
    if (decision.fits) return;
    expect(decision.totalTokens).toBe(total);
    expect(decision.window).toBe(8192);
    expect(decision.extendedWouldFit).toBe(extendedWouldFit);
    expect(contextExceededMessage(decision, max)).toContain(`maximum context length is 8192 tokens`);
  });

  test('a default cap bounds a missing max_tokens', () => {
    const decision = planContext([base(1000)], undefined, 'route', 256);
    expect(decision).toMatchObject({ fits: true, maxCompletionTokens: 256 });
  });

  test('the message gives both numbers', () => {
    const decision = planContext([base(9000)], 100, 'reject');
    if (decision.fits) throw new Error('expected a refusal');
    expect(contextExceededMessage(decision, 100)).toBe(
      "This model's maximum context length is 8192 tokens. However, you requested 9100 tokens (9000 in the messages, 100 in the completion). Please reduce the length of the messages or completion.",
    );
  });
});
