/**
 * The agent log (src/plugins/fence/io.ts): where each level goes (stderr per -v and -q, the debug file always,
 * vdsmd's log in process), and the mask over every detail line: a secret value shows as ******** in whatever
 * form a device sends it back, even where no transport marked it.
 */
import { describe, expect, it } from 'vitest';
import { createFenceLog, type FenceIo, type LogSinks } from '../src/plugins/fence/io.js';

const SECRET = 'p&ss"w<rd>';

function capture(sinks: Partial<LogSinks>, inProcess = false) {
  const err: string[] = [];
  const file: string[] = [];
  const debug: string[] = [];
  const io: FenceIo = { out: () => {}, err: (t) => err.push(t), ...(inProcess ? { debug: (m) => debug.push(m) } : {}) };
  const log = createFenceLog(io, {
    verbosity: 0,
    quiet: false,
    secrets: () => [SECRET],
    file: (t) => file.push(t),
    ...sinks,
  });
  return { log, err, file, debug };
}

describe('the agent log', () => {
  it('masks a secret in detail lines, as sent and XML-escaped (a device echoing a LOGIN)', () => {
    const { log, err } = capture({ verbosity: 1 });
    log.debug(`Received: password ${SECRET} and <LOGIN PASSWORD="p&amp;ss&quot;w&lt;rd&gt;">`);
    expect(err.join('')).toMatch(/DEBUG: Received: password \*{8} and <LOGIN PASSWORD="\*{8}">/);
    expect(err.join('')).not.toMatch(/w<rd|w&lt;rd/);
  });

  it('-v decides stderr for info and debug; errors always; -q silences stderr but not the debug file', () => {
    const plain = capture({});
    plain.log.info('dialogue');
    plain.log.error('broken');
    expect(plain.err.join('')).not.toMatch(/dialogue/);
    expect(plain.err.join('')).toMatch(/ERROR: broken/);
    expect(plain.file.join('')).toMatch(/INFO: dialogue[\s\S]*ERROR: broken/);
    const quiet = capture({ verbosity: 1, quiet: true });
    quiet.log.debug('dialogue');
    quiet.log.error('broken');
    expect(quiet.err).toEqual([]);
    expect(quiet.file.join('')).toMatch(/DEBUG: dialogue[\s\S]*ERROR: broken/);
  });

  it('in process the detail goes to the debug sink, masked, and not to stderr', () => {
    const { log, err, debug } = capture({ verbosity: 0, file: undefined }, true);
    log.debug(`Sent: ${SECRET}`);
    log.error('broken');
    expect(debug).toEqual(['Sent: ********']);
    expect(err.join('')).toMatch(/ERROR: broken/);
    expect(err.join('')).not.toMatch(/Sent/);
  });
});
