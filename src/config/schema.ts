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

/** A backend is one server (a replica, when a model names several). */
const backendSchema = z.strictObject({
  url: z.url({ message: 'must be an http(s) URL such as "http://127.0.0.1:8000/v1"' }),
  apiKey: z.string().min(1).optional(),
  timeoutMs: z.number().int().positive().default(600_000),
  /** Its share of a model's traffic next to the model's other replicas (default 1). */
  weight: z.number().positive().max(1000).optional(),
  /** Most requests sent to it at once; past it requests go to another replica or wait (default: no limit). */
  maxInFlight: z.number().int().positive().optional(),
});

const modelSchema = z.strictObject({
  /** The one backend serving the model; or `backends` for several replicas (exactly one of the two). */
  backend: z.string().min(1).optional(),
  backends: z.array(z.string().min(1)).min(1).optional(),
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
  /** Replica health: passive (failures eject a replica for a growing back-off) and optional active probes. */
  health: z
    .strictObject({
      /** Consecutive failures (connect error, timeout, 5xx) that eject a replica. */
      failureThreshold: z.number().int().min(1).default(1),
      /** First back-off of an ejected replica; doubles while its trial requests keep failing. */
      backoffMs: z.number().int().positive().default(1_000),
      maxBackoffMs: z.number().int().positive().default(30_000),
      /** Active probe period; 0: passive health only. */
      probeIntervalMs: z.number().int().min(0).default(0),
      /** Probed on the backend's host (vLLM, SGLang and TGI answer `/health`; `/v1/models` works too). */
      probePath: z.string().regex(/^\//, 'must be a path such as "/health"').default('/health'),
      probeTimeoutMs: z.number().int().positive().default(2_000),
    })
    .prefault({}),
  /** Retries on another replica, only for attempts nothing of which can have been processed. */
  retry: z
    .strictObject({
      /** Attempts per request, the first included (1: no retries). */
      attempts: z.number().int().min(1).max(10).default(3),
      /** A backend's Retry-After is honoured up to this long (the replica is not used meanwhile). */
      maxRetryAfterMs: z.number().int().min(0).default(30_000),
    })
    .prefault({}),
  /** Requests waiting, per model, while every replica is at its maxInFlight. */
  queue: z
    .strictObject({
      size: z.number().int().min(0).default(256),
      maxWaitMs: z.number().int().min(0).default(10_000),
    })
    .prefault({}),
  logging: z
    .strictObject({
      /** One JSON line per request (request id, key id, model, replica, status, tokens, cost, timings). */
      requests: z.boolean().default(false),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /** Label request, token and cost counters with the key id too (one series per key: mind the cardinality). */
      perKey: z.boolean().default(false),
    })
    .prefault({}),
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
    gateway: gatewaySchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    for (const [name, model] of Object.entries(config.models)) {
      if ((model.backend === undefined) === (model.backends === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['models', name, 'backend'], message: 'give exactly one of "backend" and "backends"' });
      }
      if (model.backend !== undefined && !Object.hasOwn(config.backends, model.backend)) {
        ctx.addIssue({ code: 'custom', path: ['models', name, 'backend'], message: `names no backend "${model.backend}" in "backends"` });
      }
      for (const [index, backend] of (model.backends ?? []).entries()) {
        if (!Object.hasOwn(config.backends, backend)) {
          ctx.addIssue({
            code: 'custom',
            path: ['models', name, 'backends', index],
            message: `names no backend "${backend}" in "backends"`,
          });
        } else if (model.backends!.indexOf(backend) !== index) {
          ctx.addIssue({ code: 'custom', path: ['models', name, 'backends', index], message: `names "${backend}" twice` });
        }
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

/**
 * The replicas serving a model, by backend name: its `backends`, or its one `backend`.
 * @example modelBackends({ backends: ['gpu-a', 'gpu-b'] }) // ['gpu-a', 'gpu-b']
 */
export function modelBackends(model: Pick<ModelConfig, 'backend' | 'backends'>): readonly string[] {
  return model.backends ?? [model.backend!];
}
