const MASK = '********';

/** Keys whose values never reach a log: vdsm masks `password` and anything prefixed `_X_`; we add the fence aliases. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  return k === 'password' || k === 'passwd' || k === 'community' || k.startsWith('_x_');
}

/** A copy of `value` with every secret-keyed value masked, at any depth; the original is untouched. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 32 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? MASK : redactSecrets(v, depth + 1);
  return out;
}
