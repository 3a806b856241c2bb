import { JSONRPCErrorException } from 'json-rpc-2.0';
import { describeIssues } from '../schema-issues.js';
import { BROKER_METHODS, type BrokerMethodName, type BrokerParams, type BrokerResult } from './catalogue.js';
import { BrokerError } from './errors.js';
import { requestOnce } from './rpc.js';

const DEFAULT_TIMEOUT_MS = 5000;

export interface BrokerCallOptions {
  /** Bound of the whole call, connection included (default 5 s). */
  timeoutMs?: number;
}

/** The HA broker on its local socket, typed by the catalogue. */
export interface BrokerClient {
  /**
   * Calls `method` on a fresh connection and parses its answer with the method's result schema. Rejects with a
   * BrokerError (its code from BROKER_ERRORS) when the broker refuses or fails, with a plain Error when it
   * cannot be reached, does not answer in time, or answers what the schema does not allow.
   */
  call<M extends BrokerMethodName>(
    method: M,
    params: BrokerParams<M>,
    options?: BrokerCallOptions,
  ): Promise<BrokerResult<M>>;
}

export function brokerClient(socketPath: string): BrokerClient {
  return {
    async call(method, params, options = {}) {
      let answer: unknown;
      try {
        answer = await requestOnce(socketPath, method, params, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      } catch (err) {
        throw err instanceof JSONRPCErrorException ? new BrokerError(err.code, err.message) : err;
      }
      const parsed = BROKER_METHODS[method].result.safeParse(answer);
      if (!parsed.success)
        throw new Error(
          `the HA broker's answer to ${method} does not match its schema: ${describeIssues(parsed.error, '(result)')}`,
        );
      return parsed.data as BrokerResult<typeof method>;
    },
  };
}
