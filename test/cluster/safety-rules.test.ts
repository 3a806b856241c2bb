/**
 * The cluster test bed's safety rules (`judge` in cluster.ts) on made-up samples: each rule fails the window it
 * should, an unknown is never read as "not running", and what the rules tolerate is exactly what their doc says.
 * No root, no processes: the rules themselves, so that the cluster test's verdicts mean what they claim.
 */
import { describe, expect, it } from 'vitest';
import { judge, MAX_GAP_MS, safetyProblems, type Sample } from './cluster.js';

const HOSTS = [1, 2, 3];
/** Samples every `every` ms from 0: `[running, unknown]` each. */
const series = (every: number, ...xs: [number[], number[]][]): Sample[] =>
  xs.map(([running, unknown], i) => ({ at: i * every, running, unknown, healthy: false }));
const repeat = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);
const problems = (samples: Sample[], faulted: number[] = []) =>
  safetyProblems(judge(samples, 0, samples.at(-1)!.at, HOSTS, faulted));

describe('the safety rules of the cluster sampler', () => {
  it('a window where every host is known and the VM runs on one host passes', () => {
    expect(problems(series(100, ...repeat(30, [[1], []] as [number[], number[]])))).toEqual([]);
  });

  it('two hosts running in one sample fails', () => {
    const p = problems(
      series(
        100,
        ...repeat(10, [[1], []] as [number[], number[]]),
        [[1, 2], []],
        ...repeat(10, [[1], []] as [number[], number[]]),
      ),
    );
    expect(p.join('\n')).toMatch(/1 samples with the engine VM on two hosts/);
  });

  it('more than a second without a sample fails, edges included', () => {
    const s = series(100, ...repeat(10, [[1], []] as [number[], number[]]));
    s.push({ at: s.at(-1)!.at + MAX_GAP_MS + 1, running: [1], unknown: [], healthy: false });
    expect(problems(s).join('\n')).toMatch(/1 gaps of more than 1000 ms/);
    const late = series(100, ...repeat(5, [[1], []] as [number[], number[]])).map((x) => ({ ...x, at: x.at + 1500 }));
    expect(safetyProblems(judge(late, 0, late.at(-1)!.at, HOSTS, [])).join('\n')).toMatch(
      /gaps of more than 1000 ms between samples: 1500 ms after \+0 ms/,
    );
  });

  it('one host running and another unknown is no proof: failing once it lasts over 3 s, whoever is under fault', () => {
    // 3.5 s of "host 1 runs, host 3 could not tell"; host 3 is the one under fault, so only the proof rule is at stake.
    const s = series(
      100,
      ...repeat(5, [[1], []] as [number[], number[]]),
      ...repeat(35, [[1], [3]] as [number[], number[]]),
      ...repeat(5, [[1], []] as [number[], number[]]),
    );
    expect(problems(s, [3]).join('\n')).toMatch(
      /running \+ unknown > 1 \(no proof of single-running\) for more than 3000 ms: 3500 ms from \+500 ms/,
    );
    // Read as "not running" (the old sampler), the same window would have passed:
    const asNotRunning = s.map((x) => ({ ...x, unknown: [] }));
    expect(problems(asNotRunning, [3])).toEqual([]);
  });

  it('a host not under fault unknown for over 3 s fails even with nobody running', () => {
    const s = series(
      100,
      ...repeat(5, [[], []] as [number[], number[]]),
      ...repeat(32, [[], [2]] as [number[], number[]]),
      ...repeat(5, [[], []] as [number[], number[]]),
    );
    expect(problems(s).join('\n')).toMatch(/a host not under fault unknown for more than 3000 ms: host 2 3300 ms/);
    // The same host under fault, nobody running: its unknowns are expected (counted, not failed).
    expect(problems(s, [2])).toEqual([]);
    expect(judge(s, 0, s.at(-1)!.at, HOSTS, [2]).unknownByHost).toEqual({ 2: 32 });
  });

  it('an isolated unknown (a sample missed for one host, known again within a second) is counted and tolerated', () => {
    const s = series(
      100,
      ...repeat(5, [[1], []] as [number[], number[]]),
      ...repeat(3, [[1], [2]] as [number[], number[]]),
      ...repeat(5, [[1], []] as [number[], number[]]),
    );
    const j = judge(s, 0, s.at(-1)!.at, HOSTS, []);
    expect(safetyProblems(j)).toEqual([]);
    expect([j.unknownByHost, j.unproven.length]).toEqual([{ 2: 3 }, 3]);
  });
});
