import { JSONRPCErrorException, JSONRPCServer } from 'json-rpc-2.0';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { SanlockError } from '../../storage/sanlock-run.js';
import { describeIssues } from '../schema-issues.js';
import { WhiteboardReadBackError } from '../whiteboard.js';
import { BROKER_METHODS, type BrokerMethodName, type BrokerMethods } from './catalogue.js';
import { BrokerError } from './errors.js';

/** The broker's side of each catalogue method: validated params in, a result its schema accepts out. */
export type BrokerHandlers = {
  [M in BrokerMethodName]: (
    params: z.output<BrokerMethods[M]['params']>,
  ) => Promise<z.input<BrokerMethods[M]['result']>>;
};

/**
 * A JSON-RPC server with every catalogue method: params validated by the method's schema (a bad one is refused
 * naming the field), and every failure answered with its code from BROKER_ERRORS. Nothing a caller sends stops it.
 */
export function brokerRpcServer(handlers: BrokerHandlers, log: Logger): JSONRPCServer {
  // Failures are logged below, with their kind; the library's own listener would print them to stderr.
  const server = new JSONRPCServer({ errorListener: () => {} });
  for (const name of Object.keys(BROKER_METHODS) as BrokerMethodName[]) {
    const { params } = BROKER_METHODS[name];
    const handle = handlers[name] as (params: unknown) => unknown;
    server.addMethod(name, async (raw: unknown) => {
      try {
        const parsed = params.safeParse(raw ?? {});
        if (!parsed.success)
          throw BrokerError.of('invalidParams', `Invalid params: ${describeIssues(parsed.error, '(params)')}`);
        return await handle(parsed.data);
      } catch (err) {
        const answer = toBrokerError(err);
        if (err instanceof BrokerError) log.info({ method: name, code: answer.code }, answer.message);
        else log.warn({ method: name, code: answer.code, err: answer.message }, 'broker method failed');
        throw wire(answer);
      }
    });
  }
  return server;
}

/** What a method's failure is on the wire: refusals keep their code; the rest is classified by what threw. */
export function toBrokerError(err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof SanlockError) return BrokerError.of('sanlockFailed', message);
  if (err instanceof WhiteboardReadBackError || isSystemError(err)) return BrokerError.of('storageIo', message);
  return BrokerError.of('internal', message);
}

/** An error from the operating system (ENOENT, EIO, EACCES, ESTALE, …), as node:fs rejects. */
function isSystemError(err: unknown): boolean {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}

function wire(err: BrokerError): JSONRPCErrorException {
  return new JSONRPCErrorException(err.message, err.code);
}
