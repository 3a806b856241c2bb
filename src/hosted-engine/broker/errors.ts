import { JSONRPCErrorCode } from 'json-rpc-2.0';

/**
 * Every error code the broker answers with, one per kind of refusal or failure. The JSON-RPC ones are the
 * protocol's own; the rest are the broker's (refusals 1xx, failures of what it stands on 2xx).
 */
export const BROKER_ERRORS = {
  parseError: { code: JSONRPCErrorCode.ParseError, meaning: 'the line is not JSON' },
  invalidRequest: { code: JSONRPCErrorCode.InvalidRequest, meaning: 'not a JSON-RPC 2.0 request' },
  unknownMethod: { code: JSONRPCErrorCode.MethodNotFound, meaning: 'no such method in the catalogue' },
  invalidParams: {
    code: JSONRPCErrorCode.InvalidParams,
    meaning: "the params do not match the method's schema; the message names the field",
  },
  internal: { code: JSONRPCErrorCode.InternalError, meaning: 'an unforeseen failure; the message says which' },
  notOwnSlot: { code: 101, meaning: "a block for another host's slot: each broker writes its own host's slot only" },
  leaseHeld: { code: 102, meaning: 'the host holds the engine VM lease: it may be running the engine VM' },
  hostAlive: { code: 103, meaning: 'sanlock sees the host LIVE or FAIL in the lockspace: it may still be alive' },
  uncleanBlock: { code: 104, meaning: "the host's metadata block is not from a clean stop (its agent may run)" },
  notInGlobalMaintenance: { code: 105, meaning: 'the cluster is not in global maintenance' },
  agentActive: { code: 106, meaning: "a host's agent is running (its block is not from a clean stop)" },
  storageIo: {
    code: 201,
    meaning: 'reading or writing a file failed (the whiteboard or lease on shared storage, the local flags)',
  },
  sanlockFailed: { code: 202, meaning: 'the sanlock command failed (its daemon, or the storage under the lockspace)' },
} as const;

export type BrokerErrorName = keyof typeof BROKER_ERRORS;

/** A broker's error answer: `code` is one of BROKER_ERRORS (or, from a broker of another version, any number). */
export class BrokerError extends Error {
  override name = 'BrokerError';

  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  static of(name: BrokerErrorName, message: string): BrokerError {
    return new BrokerError(BROKER_ERRORS[name].code, message);
  }
}

/** Whether `err` is the broker's answer of that kind (a caller's test for one refusal). */
export function isBrokerError(err: unknown, name: BrokerErrorName): err is BrokerError {
  return err instanceof BrokerError && err.code === BROKER_ERRORS[name].code;
}
