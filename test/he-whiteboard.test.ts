import { mkdtempSync, rmSync } from 'node:fs';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { HostBlock } from '../src/hosted-engine/types.js';
import {
  FileWhiteboard,
  LINE_BYTES,
  SLOT_BYTES,
  crc32,
  crc32Hex,
  decodeGlobalBlock,
  decodeHostBlock,
  encodeGlobalBlock,
  encodeHostBlock,
  type HostDecodeResult,
} from '../src/hosted-engine/whiteboard.js';
import { rng } from './support/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'he-whiteboard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

const block = (over: Partial<HostBlock> = {}): HostBlock => ({
  hostId: 1,
  hostTs: 123456,
  score: 3400,
  engineStatus: { vm: 'up', health: 'good', detail: 'Up' },
  hostname: 'host1.example.com',
  maintenance: false,
  stopped: false,
  confOnSharedStorage: true,
  localConfTimestamp: 120,
  state: 'EngineUp',
  ...over,
});

/** A slot holding `line` in bytes 0..511 (no extra part), as another writer might produce it. */
function rawSlot(line: string): Buffer {
  const b = Buffer.alloc(SLOT_BYTES);
  b.write(line, 0, 'utf8');
  return b;
}

/** Token line with a correct CRC in token 9 (when there are at least 10 tokens). */
function withCrc(tokens: string[]): string {
  const t = tokens.slice();
  if (t.length > 9) {
    t[9] = '00000000';
    t[9] = crc32Hex(t.join('|'));
  }
  return t.join('|');
}

function ok(r: HostDecodeResult) {
  if (!('block' in r)) throw new Error(`expected a block, got ${JSON.stringify(r)}`);
  return r;
}
function err(r: HostDecodeResult) {
  if (!('error' in r)) throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r;
}

function tokenLine(buf: Buffer): string {
  return buf.subarray(0, LINE_BYTES).toString('utf8').replace(/\0+$/, '');
}

describe('crc32', () => {
  it('matches the standard check value and zlib', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32Hex('123456789')).toBe('cbf43926');
    expect(crc32('')).toBe(0);
    expect(crc32Hex(Buffer.from([0xff]))).toBe('ff000000');
    // zlib's CRC-32, from the trailer of a gzip stream (any Node has it; zlib.crc32 only newer 20.x).
    const zcrc = (b: Buffer) => {
      const z = zlib.gzipSync(b);
      return z.readUInt32LE(z.length - 8);
    };
    const r = rng(7);
    for (let i = 0; i < 50; i++) {
      const b = randomBytes(r, Math.floor(r() * 700));
      expect(crc32(b)).toBe(zcrc(b));
    }
  });
});

describe('host block codec', () => {
  it('encodes exactly 4096 bytes: token line in 0..511 (NUL padded), readable lines from 512', () => {
    const buf = encodeHostBlock(block(), 1_700_000_000);
    expect(buf.length).toBe(SLOT_BYTES);
    const line = tokenLine(buf);
    // byte-identical to what upstream (Python json.dumps + binascii.crc32) writes for the same data
    expect(line).toBe(
      '1|1|123456|1|3400|{"vm": "up", "health": "good", "detail": "Up"}|host1.example.com|0|0|7136dfe2|1|120',
    );
    expect(buf.subarray(Buffer.byteLength(line), LINE_BYTES).every((b) => b === 0)).toBe(true);
    const extra = buf.subarray(LINE_BYTES).toString('utf8').replace(/\0+$/, '');
    const lines = extra.trimEnd().split('\n');
    expect(lines.map((l) => l.split('=')[0])).toEqual([
      'metadata_parse_version',
      'metadata_feature_version',
      'timestamp',
      'host-id',
      'score',
      'vm_conf_refresh_time',
      'conf_on_shared_storage',
      'maintenance',
      'state',
      'stopped',
    ]);
    expect(lines[0]).toBe('metadata_parse_version=1');
    expect(lines[2]).toMatch(/^timestamp=123456 \([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\)$/);
    expect(lines.slice(3)).toEqual(
      expect.arrayContaining([
        'host-id=1',
        'score=3400',
        'conf_on_shared_storage=True',
        'maintenance=False',
        'state=EngineUp',
        'stopped=False',
      ]),
    );
    // without an epoch the ctime annotation is simply left out
    expect(encodeHostBlock(block()).subarray(LINE_BYTES).toString('utf8')).toContain('\ntimestamp=123456\n');
  });

  it('matches upstream byte for byte with a reason, and round-trips', () => {
    const b = block({
      hostId: 2,
      hostTs: 99,
      engineStatus: { vm: 'down', health: 'bad', detail: 'unknown', reason: 'vm not running on this host' },
      hostname: 'h2',
      maintenance: true,
      localConfTimestamp: 0,
      state: 'LocalMaintenance',
    });
    const buf = encodeHostBlock(b);
    expect(tokenLine(buf)).toBe(
      '1|1|99|2|3400|{"vm": "down", "health": "bad", "detail": "unknown", "reason": "vm not running on this host"}|h2|1|0|ae6aead8|1|0',
    );
    expect(ok(decodeHostBlock(2, buf)).block).toEqual(b);
  });

  it('round-trips a realistic block', () => {
    for (const b of [
      block(),
      block({ hostId: 250, stopped: true, score: 0, state: 'AgentStopped', confOnSharedStorage: false }),
      block({ engineStatus: { vm: 'unknown', health: 'unknown', detail: 'unknown', reason: 'failed to getVmStats' } }),
      block({ engineStatus: { vm: 'up', health: 'bad', detail: 'Powering up', reason: 'résumé "quoted" \\ \n ✓ 😀' } }),
    ]) {
      const r = ok(decodeHostBlock(b.hostId, encodeHostBlock(b, 1_700_000_000)));
      expect(r.block).toEqual(b);
      expect(r.extra).toContain(`state=${b.state}\n`);
    }
    // fractional seconds and scores are truncated like Python int()
    expect(ok(decodeHostBlock(1, encodeHostBlock(block({ hostTs: 10.9, score: 2399.6 })))).block).toMatchObject({
      hostTs: 10,
      score: 2399,
    });
  });

  it('CRC token is crc32 of the line with the CRC token set to 00000000', () => {
    const line = tokenLine(encodeHostBlock(block({ hostId: 7, hostname: 'crc.example' })));
    const tokens = line.split('|');
    expect(tokens).toHaveLength(12);
    expect(tokens[9]).toMatch(/^[0-9a-f]{8}$/);
    const zeroed = tokens.slice();
    zeroed[9] = '00000000';
    const zcrc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
    const expected = zcrc ? zcrc(Buffer.from(zeroed.join('|'))) : crc32(zeroed.join('|'));
    expect(tokens[9]).toBe(expected.toString(16).padStart(8, '0'));
  });

  it('a flipped byte is a CRC error', () => {
    const buf = encodeHostBlock(block());
    const at = tokenLine(buf).indexOf('host1');
    buf[at] = 'H'.charCodeAt(0);
    expect(err(decodeHostBlock(1, buf)).error).toMatch(/checksum .* does not match/);
    const buf2 = encodeHostBlock(block());
    buf2[tokenLine(buf2).indexOf('3400')] = '2'.charCodeAt(0); // 3400 -> 2400
    expect(err(decodeHostBlock(1, buf2)).error).toMatch(/checksum/);
  });

  it('a too-new parse version is reported as such (fatal for the agent)', () => {
    const r = err(
      decodeHostBlock(3, rawSlot(withCrc(['2', '2', '5', '3', '3400', '{"vm": "up"}', 'h', '0', '0', '', '1', '0']))),
    );
    expect(r.error).toBe('Metadata version 2 from host 3 too new for this agent (highest compatible version: 1)');
    expect(r.tooNew).toBe(true);
    // the version is the leading digits, whatever follows
    expect(err(decodeHostBlock(3, rawSlot('17;new;format'))).tooNew).toBe(true);
  });

  it('a too-old feature version is rejected (not fatal)', () => {
    const r = err(
      decodeHostBlock(3, rawSlot(withCrc(['0', '0', '5', '3', '3400', '{"vm": "up"}', 'h', '0', '0', '', '1', '0']))),
    );
    expect(r.error).toMatch(/too old/);
    expect(r.tooNew).toBeUndefined();
  });

  it('a block whose host id differs from its slot is rejected', () => {
    const buf = encodeHostBlock(block({ hostId: 3 }));
    expect(ok(decodeHostBlock(3, buf)).block.hostId).toBe(3);
    expect(err(decodeHostBlock(4, buf)).error).toMatch(/host id 3 but sits in slot 4/);
  });

  it('empty, short and malformed slots', () => {
    expect(decodeHostBlock(1, Buffer.alloc(SLOT_BYTES))).toEqual({ empty: true });
    expect(decodeHostBlock(1, Buffer.from([0, 1, 2]))).toEqual({ empty: true });
    expect(err(decodeHostBlock(1, Buffer.alloc(0))).error).toMatch(/received 0 of 512/);
    expect(err(decodeHostBlock(1, Buffer.from('1|1|5'))).error).toMatch(/received 5 of 512/);
    expect(err(decodeHostBlock(1, rawSlot('1|1|5|1|3400|{}'))).error).toMatch(/6 of 7 expected tokens/);
    expect(err(decodeHostBlock(1, rawSlot('garbage'))).error).toMatch(/non-parsable metadata version/);
    expect(
      err(
        decodeHostBlock(1, rawSlot(withCrc(['1', '1', '5', '1', '3400', '{"vm": "up"', 'h', '0', '0', '', '1', '0']))),
      ).error,
    ).toMatch(/engine status is not valid JSON/);
    expect(
      err(decodeHostBlock(1, rawSlot(withCrc(['1', '1', '5', '1', '3400', '"up"', 'h', '0', '0', '', '1', '0']))))
        .error,
    ).toMatch(/not an engine-health object/);
    expect(
      err(
        decodeHostBlock(
          1,
          rawSlot(withCrc(['1', '1', 'x5', '1', '3400', '{"vm": "up"}', 'h', '0', '0', '', '1', '0'])),
        ),
      ).error,
    ).toMatch(/timestamp "x5" is not an integer/);
    const badUtf8 = rawSlot('1|1|5|1|3400|{"vm": "up"}|h');
    badUtf8[30] = 0xff;
    expect(err(decodeHostBlock(1, badUtf8)).error).toMatch(/UTF-8/);
  });

  it('reads older blocks without the optional tokens (no CRC, no flags)', () => {
    const r = ok(
      decodeHostBlock(4, rawSlot('1|1|77|4|2400|{"vm": "down", "health": "bad", "detail": "unknown"}|old-host|1')),
    );
    expect(r.block).toEqual({
      hostId: 4,
      hostTs: 77,
      score: 2400,
      engineStatus: { vm: 'down', health: 'bad', detail: 'unknown' },
      hostname: 'old-host',
      maintenance: true,
      stopped: false,
      confOnSharedStorage: false,
      localConfTimestamp: 0,
      state: '',
    });
    // unknown enum values from a newer writer degrade to "unknown" instead of hiding the host
    const r2 = ok(decodeHostBlock(4, rawSlot('1|1|77|4|2400|{"vm": "paused", "health": "meh"}|h')));
    expect(r2.block.engineStatus).toEqual({ vm: 'unknown', health: 'unknown', detail: 'unknown' });
  });

  it('`|` in the engine status or hostname cannot break parsing', () => {
    // our writer escapes it in JSON, so even a plain split (upstream) sees 12 tokens
    const b = block({ engineStatus: { vm: 'up', health: 'bad', detail: 'Up', reason: 'a|b||c' } });
    const buf = encodeHostBlock(b);
    expect(tokenLine(buf).split('|')).toHaveLength(12);
    expect(tokenLine(buf)).toContain('a\\u007cb\\u007c\\u007cc');
    expect(ok(decodeHostBlock(1, buf)).block).toEqual(b);
    // another writer's raw `|` inside a JSON string is handled by the JSON-aware tokenizer
    const foreign = withCrc([
      '1',
      '1',
      '5',
      '1',
      '3400',
      '{"vm": "up", "health": "bad", "detail": "x|y", "reason": "p|q"}',
      'h',
      '0',
      '1',
      '',
      '1',
      '9',
    ]);
    const parts = foreign.split('|');
    const crcTok = parts[11]!; // plain split shifted the CRC two places: show the real one is still found
    expect(crcTok).toMatch(/^[0-9a-f]{8}$/);
    expect(ok(decodeHostBlock(1, rawSlot(foreign))).block).toMatchObject({
      engineStatus: { vm: 'up', health: 'bad', detail: 'x|y', reason: 'p|q' },
      hostname: 'h',
      stopped: true,
      localConfTimestamp: 9,
    });
    // hostnames with `|` (or line breaks / NUL) are refused at encode time
    expect(() => encodeHostBlock(block({ hostname: 'evil|host' }))).toThrow(/hostname/);
    expect(() => encodeHostBlock(block({ hostname: 'a\nb' }))).toThrow(/hostname/);
    expect(() => encodeHostBlock(block({ state: 'x\ny' }))).toThrow(/state/);
  });

  it('refuses a token line over 512 bytes and bad numbers', () => {
    expect(() => encodeHostBlock(block({ hostname: 'h'.repeat(450) }))).toThrow(/too long/);
    expect(() =>
      encodeHostBlock(block({ engineStatus: { vm: 'up', health: 'bad', detail: 'Up', reason: 'r'.repeat(420) } })),
    ).toThrow(/too long/);
    // the limit is exact: a line of 512 bytes is fine, 513 is not
    const base = Buffer.byteLength(tokenLine(encodeHostBlock(block({ hostname: '' }))));
    const full = block({ hostname: 'h'.repeat(512 - base) });
    expect(tokenLine(encodeHostBlock(full))).toHaveLength(512);
    expect(ok(decodeHostBlock(1, encodeHostBlock(full))).block).toEqual(full);
    expect(() => encodeHostBlock(block({ hostname: 'h'.repeat(513 - base) }))).toThrow(/513 > 512/);
    expect(() => encodeHostBlock(block({ hostId: 0 }))).toThrow(RangeError);
    expect(() => encodeHostBlock(block({ score: Number.NaN }))).toThrow(TypeError);
    expect(() => encodeHostBlock(block({ hostTs: Infinity }))).toThrow(TypeError);
  });

  it('never throws on garbage (1,000 random buffers + 1,000 mutated blocks)', () => {
    const r = rng(20250101);
    for (let i = 0; i < 1000; i++) {
      const len = r() < 0.8 ? SLOT_BYTES : Math.floor(r() * 5000);
      const buf = randomBytes(r, len);
      if (r() < 0.5 && buf.length > 0) buf[0] = 0x31; // '1': get past the version check
      if (r() < 0.3 && buf.length > 20) buf.write('1|1|5|3|3400|{"vm":', 0, 'latin1');
      const slot = 1 + Math.floor(r() * 250);
      const res = decodeHostBlock(slot, buf);
      expect('empty' in res || 'error' in res || 'block' in res).toBe(true);
      const g = decodeGlobalBlock(buf);
      expect(typeof g.maintenance).toBe('boolean');
      expect(g.warnings.length).toBeLessThanOrEqual(21);
    }
    const valid = encodeHostBlock(block({ engineStatus: { vm: 'up', health: 'bad', detail: 'Up', reason: 'x|y' } }));
    let accepted = 0;
    for (let i = 0; i < 1000; i++) {
      const buf = Buffer.from(valid);
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) buf[Math.floor(r() * 200)] = Math.floor(r() * 256);
      const res = decodeHostBlock(1, buf);
      if ('block' in res) accepted++;
    }
    // only mutations that leave the token line unchanged (same byte written back) may pass the CRC
    expect(accepted).toBeLessThan(30);
  });
});

describe('global block codec', () => {
  it('round-trips and uses upstream form', () => {
    const on = encodeGlobalBlock({ maintenance: true });
    expect(on.length).toBe(SLOT_BYTES);
    expect(on.toString('utf8').replace(/\0+$/, '')).toBe('maintenance=1');
    expect(decodeGlobalBlock(on)).toEqual({ maintenance: true, warnings: [] });
    expect(decodeGlobalBlock(encodeGlobalBlock({ maintenance: false }))).toEqual({ maintenance: false, warnings: [] });
    expect(decodeGlobalBlock(Buffer.alloc(SLOT_BYTES))).toEqual({ maintenance: false, warnings: [] });
  });

  it('accepts t/y/1/true and f/n/0/false, ignores unknown keys with a warning', () => {
    const g = (text: string) => {
      const b = Buffer.alloc(SLOT_BYTES);
      b.write(text);
      return decodeGlobalBlock(b);
    };
    for (const v of ['t', 'y', '1', 'true', 'True', 'TRUE', 'yes'])
      expect(g(`maintenance=${v}`).maintenance).toBe(true);
    for (const v of ['f', 'n', '0', 'false', 'False', 'no']) expect(g(`maintenance=${v}\n`).maintenance).toBe(false);
    const u = g('color=blue\nmaintenance=1\n');
    expect(u.maintenance).toBe(true);
    expect(u.warnings).toEqual([expect.stringMatching(/unknown global metadata key "color"/)]);
    const bad = g('maintenance=perhaps');
    expect(bad.maintenance).toBe(false);
    expect(bad.warnings[0]).toMatch(/invalid boolean/);
    const junk = g('\u0001\u0002 ~~ garbage without equals');
    expect(junk.maintenance).toBe(false);
    expect(junk.warnings.length).toBeGreaterThan(0);
  });
});

describe('FileWhiteboard', () => {
  let n = 0;
  const fresh = async (maxHostId = 250) => {
    const path = join(dir, `md-${n++}`);
    const wb = new FileWhiteboard(path, { maxHostId });
    await wb.ensureSize();
    return { path, wb };
  };

  it('ensureSize creates and extends the file, never shrinks', async () => {
    const { path, wb } = await fresh();
    expect((await stat(path)).size).toBe(251 * SLOT_BYTES);
    await wb.ensureSize();
    expect((await stat(path)).size).toBe(251 * SLOT_BYTES);
    await new FileWhiteboard(path, { maxHostId: 10 }).ensureSize();
    expect((await stat(path)).size).toBe(251 * SLOT_BYTES);
    const empty = await wb.readAll();
    expect(empty).toEqual({ global: { maintenance: false }, hosts: new Map(), extras: new Map(), problems: [] });
  });

  it('two hosts on one file see each other', async () => {
    const { path } = await fresh();
    const a = new FileWhiteboard(path);
    const b = new FileWhiteboard(path);
    const ba = block({ hostId: 1, hostname: 'a.example' });
    const bb = block({
      hostId: 2,
      hostname: 'b.example',
      score: 2400,
      engineStatus: { vm: 'down', health: 'bad', detail: 'unknown', reason: 'vm not running on this host' },
      state: 'EngineDown',
    });
    await a.writeHost(ba, 1_700_000_000);
    await b.writeHost(bb);
    for (const wb of [a, b]) {
      const s = await wb.readAll();
      expect(s.problems).toEqual([]);
      expect([...s.hosts.keys()]).toEqual([1, 2]);
      expect(s.hosts.get(1)).toEqual(ba);
      expect(s.hosts.get(2)).toEqual(bb);
      expect(s.extras.get(2)).toContain('state=EngineDown');
    }
    await a.writeHost({ ...ba, hostTs: ba.hostTs + 10 });
    expect((await b.readAll()).hosts.get(1)?.hostTs).toBe(ba.hostTs + 10);
  });

  it('global maintenance round trip, seen by the other host', async () => {
    const { path, wb } = await fresh();
    const other = new FileWhiteboard(path);
    await wb.writeHost(block());
    await wb.setGlobalMaintenance(true);
    expect((await other.readAll()).global).toEqual({ maintenance: true });
    expect((await readFile(path)).subarray(0, 14).toString('latin1')).toBe('maintenance=1\0');
    await other.setGlobalMaintenance(false);
    expect((await wb.readAll()).global).toEqual({ maintenance: false });
    expect((await wb.readAll()).hosts.get(1)).toEqual(block());
    // concurrent calls on one instance are serialized; the last one wins
    await Promise.all([wb.setGlobalMaintenance(true), wb.setGlobalMaintenance(false), wb.setGlobalMaintenance(true)]);
    expect((await other.readAll()).global.maintenance).toBe(true);
  });

  it('a corrupt global block is rewritten from scratch and reported until then', async () => {
    const { path, wb } = await fresh();
    const fh = await open(path, 'r+');
    await fh.write(Buffer.from('junk\nmaintenance=maybe\n'), 0, undefined, 0);
    await fh.close();
    const s = await wb.readAll();
    expect(s.global.maintenance).toBe(false);
    expect(s.problems.map((p) => p.slot)).toEqual([0, 0]);
    await wb.setGlobalMaintenance(true);
    const s2 = await wb.readAll();
    expect(s2.global.maintenance).toBe(true);
    expect(s2.problems).toEqual([]);
  });

  it('setGlobalMaintenance throws when the read-back differs', async () => {
    const { wb } = await fresh();
    const proto = FileWhiteboard.prototype as unknown as { readRange: (o: number, l: number) => Promise<Buffer> };
    const real = proto.readRange;
    let calls = 0;
    vi.spyOn(proto, 'readRange').mockImplementation(async function (this: unknown, o: number, l: number) {
      calls++;
      // the read-back (second read) returns what a competing writer left there
      if (calls === 2) return encodeGlobalBlock({ maintenance: false });
      return real.call(this, o, l);
    });
    await expect(wb.setGlobalMaintenance(true)).rejects.toThrow(/read back as false after writing true/);
    vi.restoreAllMocks();
    // the chain is not poisoned by a failure
    await wb.setGlobalMaintenance(true);
    expect((await wb.readAll()).global.maintenance).toBe(true);
  });

  it('writing slot 3 leaves slots 2 and 4 byte-identical', async () => {
    const { path, wb } = await fresh();
    const r = rng(3);
    const before = randomBytes(r, 3 * SLOT_BYTES); // slots 2, 3, 4 full of noise
    const fh = await open(path, 'r+');
    await fh.write(before, 0, before.length, 2 * SLOT_BYTES);
    await fh.close();
    await wb.writeHost(block({ hostId: 3 }));
    const after = await readFile(path);
    expect(after.subarray(2 * SLOT_BYTES, 3 * SLOT_BYTES).equals(before.subarray(0, SLOT_BYTES))).toBe(true);
    expect(after.subarray(4 * SLOT_BYTES, 5 * SLOT_BYTES).equals(before.subarray(2 * SLOT_BYTES))).toBe(true);
    expect(after.subarray(3 * SLOT_BYTES, 4 * SLOT_BYTES).equals(encodeHostBlock(block({ hostId: 3 })))).toBe(true);
    expect(after.length).toBe(251 * SLOT_BYTES);
    // the noisy neighbours are problems, not exceptions; slot 3 reads fine
    const s = await wb.readAll();
    expect(s.hosts.get(3)).toEqual(block({ hostId: 3 }));
    expect(s.problems.map((p) => p.slot).sort()).toEqual(
      [2, 4].filter((slot) => before[(slot - 2) * SLOT_BYTES] !== 0),
    );
  });

  it('clearHost empties the slot', async () => {
    const { path, wb } = await fresh();
    await wb.writeHost(block({ hostId: 5 }));
    await wb.writeHost(block({ hostId: 6 }));
    expect((await wb.readAll()).hosts.has(5)).toBe(true);
    await wb.clearHost(5);
    const raw = await readFile(path);
    expect(raw.subarray(5 * SLOT_BYTES, 6 * SLOT_BYTES).every((b) => b === 0)).toBe(true);
    const s = await wb.readAll();
    expect([...s.hosts.keys()]).toEqual([6]);
    expect(decodeHostBlock(5, await wb.readSlot(5))).toEqual({ empty: true });
  });

  it('reports bad slots as problems and refuses out-of-range ids', async () => {
    const { path, wb } = await fresh(8);
    await wb.writeHost(block({ hostId: 2 }));
    const fh = await open(path, 'r+');
    await fh.write(encodeHostBlock(block({ hostId: 2 })), 0, SLOT_BYTES, 7 * SLOT_BYTES); // copied to the wrong slot
    await fh.write(
      rawSlot(withCrc(['2', '2', '5', '6', '0', '{}', 'n', '0', '0', '', '1', '0'])),
      0,
      SLOT_BYTES,
      6 * SLOT_BYTES,
    );
    await fh.close();
    const s = await wb.readAll();
    expect([...s.hosts.keys()]).toEqual([2]);
    expect(s.problems).toEqual([
      { slot: 6, error: expect.stringMatching(/too new/), tooNew: true },
      { slot: 7, error: expect.stringMatching(/host id 2 but sits in slot 7/) },
    ]);
    await expect(wb.writeHost(block({ hostId: 9 }))).rejects.toThrow(RangeError);
    await expect(wb.clearHost(0)).rejects.toThrow(RangeError);
    expect(() => new FileWhiteboard(path, { maxHostId: 0 })).toThrow(RangeError);
  });

  it('a short file reads as empty slots; a missing file is an I/O error', async () => {
    const path = join(dir, 'short');
    await writeFile(path, encodeGlobalBlock({ maintenance: true }));
    const s = await new FileWhiteboard(path).readAll();
    expect(s.global.maintenance).toBe(true);
    expect(s.hosts.size).toBe(0);
    const missing = new FileWhiteboard(join(dir, 'nope'));
    await expect(missing.readAll()).rejects.toThrow(/ENOENT/);
    await expect(missing.writeHost(block())).rejects.toThrow(/ENOENT/);
  });
});
