/** Exactly what the engine sends a proxy host for an IPMI fence (port "" when unset, more options as lines). */
export function engineIpmiFence(
  bmcPort: number,
  password: string,
  action: string,
  extra: Record<string, unknown> = {},
) {
  return {
    addr: '127.0.0.1',
    port: '',
    agent: 'ipmilan',
    username: 'admin',
    password,
    action,
    options: `ipport=${bmcPort}\nlanplus=1\ncipher=3\npower_wait=0`,
    ...extra,
  };
}
