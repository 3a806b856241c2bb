import { z } from 'zod';

/*
 * vdsm-client (upstream's and ours) sends name=value arguments as strings: `Host getVMList fullStatus=true` arrives
 * as {"fullStatus": "true"}. So every boolean and integer param also takes its string form. Both helpers convert
 * before validating, so docs and `vdsm-client -h` still show the param as boolean or integer.
 */

const BOOL_ERROR = 'expected a boolean: true or false, or the string "true", "false", "1" or "0"';
const INT_ERROR = 'expected an integer: a JSON number or a decimal string such as "30"';

/** Unlike vdsm, which takes any non-empty string as true (Python truthiness), "false" is false here. */
function boolFromString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  switch (value.toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      return value;
  }
}

function intFromString(value: unknown): unknown {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) return value;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

/** A boolean param: true/false, or "true"/"false" in any case, "1"/"0". */
export function boolParam() {
  return z.preprocess(boolFromString, z.boolean({ error: BOOL_ERROR }));
}

/**
 * An integer param: a JSON integer or a decimal string (optional leading minus, nothing else), within the safe range.
 * `constrain` adds bounds, e.g. `intParam((n) => n.min(0).max(100))`.
 */
export function intParam(constrain: (n: z.ZodNumber) => z.ZodNumber = (n) => n) {
  // The message is for values of the wrong kind only; bounds keep theirs ("expected number to be >=0").
  const number = z.number({ error: (issue) => (issue.code === 'invalid_type' ? INT_ERROR : undefined) });
  return z.preprocess(intFromString, constrain(number.int(INT_ERROR)));
}
