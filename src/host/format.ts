/**
 * vdsm's number conversions for the wire. Its sampling layer turns floats into "%.2f" strings and ints into
 * decimal strings; the engine parses "double" fields from a JSON string or float but drops a JSON integer,
 * and JSON.stringify(5.0) is "5", so such fields must leave here as strings.
 */
export function fixed2(value: number): string {
  if (!Number.isFinite(value)) return '0.00';
  const text = value.toFixed(2);
  return text === '-0.00' ? '0.00' : text;
}

/** An integer as a decimal string (Python's "%d": truncates toward zero). */
export function intString(value: number): string {
  return Number.isFinite(value) ? String(Math.trunc(value)) : '0';
}

/**
 * A float that stays a float in JSON. Epoch-second timestamps are whole numbers once in a thousand
 * milliseconds; serialized as an integer, the engine's double parser would ignore them.
 */
export function jsonFloat(value: number): number {
  return Number.isInteger(value) ? value + 0.001 : value;
}

/** vdsm's dateTime: UTC as `YYYY-MM-DDTHH:MM:SS GMT`. */
export function gmtDateTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)} GMT`;
}
