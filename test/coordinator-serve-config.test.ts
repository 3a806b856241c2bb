import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_COORDINATOR_CONFIG as CORE } from '../src/coordinator/core/config.js';
import { loadServeConfig, SERVE_DEFAULTS } from '../src/cli/coordinator/serve-config.js';

const dir = mkdtempSync(join(tmpdir(), 'vts-serve-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string) => {
  const f = join(dir, `c${n++}.conf`);
  writeFileSync(f, text);
  return f;
};

describe('serve settings', () => {
  it('without a config file: the embedded default (own etcd, plaintext to hosts, the core defaults)', () => {
    const c = loadServeConfig(null);
    expect(c.etcdEndpoints).toEqual([]);
    expect(c.etcdDataDir).toBe(SERVE_DEFAULTS.etcdDataDir);
    expect(c.hostsTls).toBeNull();
    expect(c.policy).toEqual({ ...CORE, leaderTtl: SERVE_DEFAULTS.ttlSeconds });
  });

  it('with a config file, TLS to hosts is on unless [hosts] tls = false', () => {
    expect(loadServeConfig(file('[coordinator]\nname = a\n')).hostsTls).toEqual(SERVE_DEFAULTS.tls);
    expect(loadServeConfig(file('[hosts]\ntls = false\n')).hostsTls).toBeNull();
  });

  it('[policy] takes the core settings by snake_case name; a new leader waits the lease TTL unless told', () => {
    const c = loadServeConfig(
      file(
        '[coordinator]\nttl = 4\n[policy]\nping_interval = 0.5\npower_on_after_fence = false\ndefault_evacuation = all\n',
      ),
    );
    expect(c.policy.pingInterval).toBe(0.5);
    expect(c.policy.powerOnAfterFence).toBe(false);
    expect(c.policy.defaultEvacuation).toBe('all');
    expect(c.policy.leaderTtl).toBe(4);
    expect(loadServeConfig(file('[coordinator]\nttl = 4\n[policy]\nleader_ttl = 9\n')).policy.leaderTtl).toBe(9);
  });

  it.each([
    ['[policy]\nping_intervall = 1\n', /\[policy\] ping_intervall .*no such policy setting/],
    ['[policy]\ngrace_base = soon\n', /\[policy\] grace_base .* must be a number/],
    ['[policy]\npower_on_after_fence = maybe\n', /must be true or false/],
    ['[coordinator]\nttl = 1\n', /\[coordinator\] ttl .* from 2 to 300/],
    ['[etcd]\nendpoints = http://user:pw@127.0.0.1:2379\n', /must not carry credentials/],
    ['[etcd]\nendpoints = 127.0.0.1:2379\n', /etcd endpoints are http or https|not a URL/],
    ['[etcd]\nprefix = vdsm\n', /prefix must start and end with "\/"/],
    ['[coordinator]\nname = a b\n', /\[coordinator\] name/],
  ])('refuses %j with the setting named', (text, message) => {
    expect(() => loadServeConfig(file(text))).toThrow(message);
  });

  it('an endpoint with credentials is refused without repeating them', () => {
    expect(() => loadServeConfig(file('[etcd]\nendpoints = http://user:s3cret@127.0.0.1:2379\n'))).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    );
  });
});
