/** JSON-RPC 2.0 error codes, as vdsm's yajsonrpc uses them. */
export const RPC_ERRORS = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
} as const;

/** vdsm's error codes (lib/vdsm/common/exception.py) that vdsmd answers with, with vdsm's standard texts. */
export const VDSM_ERRORS = {
  noVM: { code: 1, message: 'Virtual machine does not exist' },
  exist: { code: 4, message: 'Virtual machine already exists' },
  down: { code: 6, message: 'Virtual machine is down' },
  createErr: { code: 9, message: 'Error creating the requested VM' },
  MissParam: { code: 11, message: 'Missing required parameter' },
  unexpected: { code: 16, message: 'Unexpected exception' },
  unavail: { code: 40, message: 'Resource unavailable' },
  destroyErr: { code: 42, message: 'Virtual machine destroy error' },
  fenceAgent: { code: 43, message: 'Unsupported fencing agent' },
  noimpl: { code: 44, message: 'Not implemented' },
  hwInfoErr: { code: 57, message: 'Failed to read hardware information' },
  haErr: { code: 61, message: 'Failed to set Hosted Engine HA policy' },
  recovery: { code: 99, message: 'Recovering from crash or Initializing' },
  general: { code: 100, message: 'General Exception' },
} as const;

export type VdsmErrorName = keyof typeof VDSM_ERRORS;

/**
 * A failure a verb reports to the engine. The JSON-RPC binding sends `code` and `message` as the error
 * member, exactly as vdsm's bridge turns a non-zero status into an error. It is the only thrown value whose
 * code reaches the engine: anything else a verb throws is answered as an internal error.
 */
export class VdsmError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'VdsmError';
  }

  /** vdsm's "context" exceptions append the context as a Python dict repr: `<text>: {'vmId': '…'}`. */
  static of(name: VdsmErrorName, context?: Record<string, string | number>): VdsmError {
    const { code, message } = VDSM_ERRORS[name];
    return new VdsmError(code, context ? `${message}: ${pythonDictRepr(context)}` : message);
  }

  /** vdsm's catch-all (100): `General Exception: ('<text>',)`, the repr of a one-element tuple. */
  static general(text: string): VdsmError {
    return new VdsmError(VDSM_ERRORS.general.code, `${VDSM_ERRORS.general.message}: (${pythonStrRepr(text)},)`);
  }
}

/** Python's repr of a str: single quotes unless the text holds one and no double quote. */
function pythonStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const body = text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replaceAll(quote, `\\${quote}`);
  return `${quote}${body}${quote}`;
}

function pythonDictRepr(ctx: Record<string, string | number>): string {
  const items = Object.entries(ctx).map(([k, v]) => `'${k}': ${typeof v === 'number' ? v : `'${v}'`}`);
  return `{${items.join(', ')}}`;
}
