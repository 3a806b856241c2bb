/** The client commands' side of the HTTP API: fetch, bounded in time, errors turned into exit codes. */
import { errorBody } from '../../coordinator/api/schemas.js';

/** Exit codes: 1 refused or failed (the message on stderr), 2 usage (a bad argument, the server's 400 included). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 30_000;

export class ApiClient {
  constructor(private readonly base: string) {}

  get(path: string): Promise<unknown> {
    return this.call('GET', path);
  }

  post(path: string, body: Record<string, unknown>): Promise<unknown> {
    return this.call('POST', path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.call('DELETE', path);
  }

  /** Yields each line of a newline-delimited JSON answer as it arrives, until the server ends the stream. */
  async *lines(path: string, signal?: AbortSignal): AsyncGenerator<unknown> {
    const res = await this.fetch('GET', path, undefined, signal);
    if (!res.ok) throw await failure(res);
    if (!res.body) return;
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of res.body) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line) yield JSON.parse(line) as unknown;
      }
    }
  }

  private async call(method: string, path: string, body?: Record<string, unknown>): Promise<unknown> {
    const res = await this.fetch(method, path, body, AbortSignal.timeout(TIMEOUT_MS));
    if (!res.ok) throw await failure(res);
    return res.json();
  }

  private async fetch(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError(`cannot reach the coordinator at ${this.base}: ${why}`, 1);
    }
  }
}

async function failure(res: Response): Promise<CliError> {
  const text = await res.text();
  let message = `the coordinator answered ${res.status} ${res.statusText}`;
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    if (parsed.success) message = parsed.data.message;
  } catch {
    /* not JSON: the status line says enough */
  }
  return new CliError(message, res.status === 400 ? 2 : 1);
}
