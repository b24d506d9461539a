import { z } from 'zod';
import { parsePricePer1k } from '../pricing';

export const ENCODINGS = ['cl100k_base', 'o200k_base', 'p50k_base', 'p50k_edit', 'r50k_base', 'gpt2'] as const;
export type EncodingName = (typeof ENCODINGS)[number];

/** A tag key: what `x-tollgate-tags` may name (and `user`, from the OpenAI field). */
export const TAG_KEY = /^[a-z][a-z0-9_.-]{0,31}$/;

const priceString = z.string().refine(
  (text) => {
    try {
      parsePricePer1k(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a decimal USD string such as "0.03" (at most 9 decimal places, at most 10 per 1k tokens, never a number)' },
);

const backendSchema = z.strictObject({
  url: z.url({ message: 'must be an http(s) URL such as "http://127.0.0.1:8000/v1"' }),
  apiKey: z.string().min(1).optional(),
  timeoutMs: z.number().int().positive().default(600_000),
});

const modelSchema = z.strictObject({
  backend: z.string().min(1),
  upstreamModel: z.string().min(1).optional(),
  encoding: z.enum(ENCODINGS).default('cl100k_base'),
  contextWindow: z.number().int().positive(),
  pricePer1k: z.strictObject({ prompt: priceString, completion: priceString }),
  extended: z.string().min(1).optional(),
});

const gatewaySchema = z.strictObject({
  /** Largest request body accepted, in bytes; larger bodies get 413 before parsing. */
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** `route`: an over-long request moves to the model's `extended` variant; `reject`: 400. */
  contextPolicy: z.enum(['route', 'reject']).default('route'),
  /** Completion cap for a budgeted key's request without max_tokens, unless the key sets its own. */
  budgetDefaultMaxTokens: z.number().int().positive().default(1024),
  /** Where budget alerts are POSTed (JSON); none by default. */
  alertWebhookUrl: z.url().optional(),
  /** Largest /v1/estimate body (it is counted like a request, so it gets a limit of its own). */
  estimateMaxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Request tags (`x-tollgate-tags: project=search,env=prod`): which keys are kept, and what happens to others. */
  tags: z
    .strictObject({
      allowed: z
        .array(z.string().regex(TAG_KEY, 'must be a tag key such as "project" (lowercase letters, digits, _ . -; at most 32)'))
        .default([]),
      /** `reject`: a request with a tag key not allowed gets 400; `drop`: the tag is ignored. */
      unknown: z.enum(['reject', 'drop']).default('reject'),
      maxTags: z.number().int().min(1).max(32).default(8),
      maxValueLength: z.number().int().min(1).max(256).default(64),
    })
    .default({ allowed: [], unknown: 'reject', maxTags: 8, maxValueLength: 64 }),
  /** Caps of the tokenizer's caches (see GET /admin/metrics for how full they are). */
  tokenizer: z
    .strictObject({
      pieceCacheEntries: z.number().int().min(0).optional(),
      messageCacheBytes: z.number().int().min(0).optional(),
    })
    .optional(),
});

export const configSchema = z
  .strictObject({
    backends: z.record(z.string(), backendSchema),
    models: z.record(z.string(), modelSchema),
    gateway: gatewaySchema.default({
      maxBodyBytes: 4 * 1024 * 1024,
      estimateMaxBodyBytes: 1024 * 1024,
      contextPolicy: 'route',
      budgetDefaultMaxTokens: 1024,
      tags: { allowed: [], unknown: 'reject', maxTags: 8, maxValueLength: 64 },
    }),
  })
  .superRefine((config, ctx) => {
    for (const [name, model] of Object.entries(config.models)) {
      if (!config.backends[model.backend]) {
        ctx.addIssue({ code: 'custom', path: ['models', name, 'backend'], message: `names no backend "${model.backend}" in "backends"` });
      }
      if (model.extended !== undefined) {
        const extended = config.models[model.extended];
        if (!extended) {
          ctx.addIssue({ code: 'custom', path: ['models', name, 'extended'], message: `names no model "${model.extended}" in "models"` });
        } else if (extended.contextWindow <= model.contextWindow) {
          ctx.addIssue({
            code: 'custom',
            path: ['models', name, 'extended'],
            message: `"${model.extended}" must have a larger contextWindow than "${name}"`,
          });
        }
      }
    }
  });

export type Config = z.output<typeof configSchema>;
export type ModelConfig = Config['models'][string];
export type BackendConfig = Config['backends'][string];
