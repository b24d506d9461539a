/** What a CLI run may touch; `main.ts` passes the process's, tests pass their own. */
export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
}

/** Where commands print: human lines, or one JSON document with `--json`. */
export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** Text as it is (a CSV or HTML body from the gateway). */
  write(text: string): void {
    this.io.stdout.write(text);
  }

  lines(texts: readonly string[]): void {
    for (const text of texts) this.line(text);
  }

  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Diagnostics and warnings go to stderr so stdout stays parseable. */
  warn(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}
