/** JSON-RPC 2.0 error codes, as vdsm's yajsonrpc uses them. */
export const RPC_ERRORS = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
} as const;

/** vdsm's "Recovering from crash or Initializing": every call gets it until the host service is ready. */
export const RECOVERING = { code: 99, message: 'Recovering from crash or Initializing' } as const;

/** An error a method handler throws to answer with this exact code and message. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** Any thrown value with a numeric `code` and a string `message` is answered as that error (e.g. VdsmError). */
export function asCodedError(err: unknown): { code: number; message: string } | null {
  if (typeof err === 'object' && err !== null) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (typeof code === 'number' && Number.isInteger(code) && typeof message === 'string') return { code, message };
  }
  return null;
}
