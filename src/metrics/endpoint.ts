/** What the app needs of the metrics: the `/metrics` page, and a count of each answer it gives. */
export interface MetricsEndpoint {
  readonly contentType: string;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** One HTTP answer on `path` (requests without a ledger row, such as a 401, count here too). */
  responded(path: string, status: number): void;
}

/** The paths `tollgate_http_responses_total` names; any other path is counted as `other` (bounded labels). */
export const COUNTED_PATHS = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/models',
  '/v1/estimate',
  '/healthz',
  '/readyz',
  '/metrics',
] as const;
