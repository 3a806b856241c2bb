import { describe, expect, it, vi } from 'vitest';
import {
  encodeFrame,
  encodeJsonMessage,
  escapeHeader,
  type Frame,
  SERVER_COMMANDS,
  StompProtocolError,
  unescapeHeader,
} from '../src/rpc/stomp/frame.js';
import { DEFAULT_LIMITS, StompParser } from '../src/rpc/stomp/parser.js';

function parseAll(chunks: (string | Buffer)[], limits = DEFAULT_LIMITS) {
  const frames: Frame[] = [];
  let beats = 0;
  const p = new StompParser(
    (f) => frames.push(f),
    limits,
    () => beats++,
  );
  for (const c of chunks) p.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
  return { frames, beats };
}

const SEND =
  'SEND\ndestination:jms.topic.vdsm_requests\nreply-to:jms.topic.vdsm_responses\ncontent-length:10\n\n{"a":"b\u0000"}\0';

describe('STOMP frame parser', () => {
  it('parses a content-length body that contains NUL bytes', () => {
    const { frames } = parseAll([SEND]);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.command).toBe('SEND');
    expect(frames[0]!.headers['reply-to']).toBe('jms.topic.vdsm_responses');
    expect(frames[0]!.body.toString()).toBe('{"a":"b\u0000"}');
  });

  it('gives the same frames whatever the split, including one byte at a time', () => {
    const text = `CONNECT\naccept-version:1.2\nhost:null\nheart-beat:0,15000\n\n\0\n\n${SEND}\r\nSUBSCRIBE\r\nid:1\r\ndestination:a.b\r\n\r\nbody-to-nul\0`;
    const whole = parseAll([text]).frames;
    expect(whole.map((f) => f.command)).toEqual(['CONNECT', 'SEND', 'SUBSCRIBE']);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]).frames).toEqual(whole);
    }
    expect(parseAll([...bytes].map((b) => Buffer.from([b]))).frames).toEqual(whole);
  });

  it('parses many frames in one read and counts heart-beat EOLs between them', () => {
    const { frames, beats } = parseAll(['\n\r\n' + SEND.repeat(50) + '\n']);
    expect(frames).toHaveLength(50);
    expect(beats).toBe(3);
  });

  it('handles CRLF lines, the first of repeated headers, and escapes', () => {
    const { frames } = parseAll(['SEND\r\ndestination:a\\cb\\\\c\\nd\r\ndestination:second\r\nx:1:2\r\n\r\nhi\0']);
    expect(frames[0]!.headers.destination).toBe('a:b\\c\nd');
    expect(frames[0]!.headers.x).toBe('1:2');
    expect(frames[0]!.body.toString()).toBe('hi');
  });

  it('does not unescape CONNECT headers (STOMP 1.2)', () => {
    const { frames } = parseAll(['CONNECT\nlogin:a\\b\n\n\0']);
    expect(frames[0]!.headers.login).toBe('a\\b');
  });

  it.each([
    ['a header line without a colon', 'SEND\ndestination\n\n\0', /without ':'/],
    ['an unknown escape', 'SEND\ndestination:a\\tb\n\n\0', /escape/],
    ['a content-length not followed by NUL', 'SEND\ndestination:a\ncontent-length:2\n\nabc\0', /not followed by NUL/],
    ['a non-numeric content-length', 'SEND\ndestination:a\ncontent-length:-5\n\n\0', /invalid content-length/],
    ['an unknown command', 'HELLO\n\n\0', /unknown command/],
    [
      'a body over the limit (content-length)',
      `SEND\ndestination:a\ncontent-length:${DEFAULT_LIMITS.maxBodyBytes + 1}\n\n`,
      /exceeds the limit/,
    ],
  ])('rejects %s', (_name, text, message) => {
    expect(() => parseAll([text])).toThrow(StompProtocolError);
    expect(() => parseAll([text])).toThrow(message);
  });

  it('rejects a NUL-terminated body that grows past the limit, without waiting for its end', () => {
    const limits = { maxHeaderBytes: 1024, maxBodyBytes: 1000 };
    expect(() => parseAll(['SEND\ndestination:a\n\n', 'x'.repeat(600), 'x'.repeat(600)], limits)).toThrow(
      /larger than 1000/,
    );
  });

  it('rejects a header block that never ends', () => {
    expect(() => parseAll(['SEND\n' + 'h:v\n'.repeat(20_000)])).toThrow(/header block larger/);
  });

  /** Bytes Buffer.concat copies and bytes searched for NUL while `run` parses (spies, restored after). */
  function work(run: () => void): { copied: number; searched: number } {
    const tally = { copied: 0, searched: 0 };
    const concat = Buffer.concat;
    const indexOf = Buffer.prototype.indexOf;
    const concatSpy = vi.spyOn(Buffer, 'concat').mockImplementation((list, length) => {
      const out = concat(list, length);
      tally.copied += out.length;
      return out;
    });
    const indexOfSpy = vi.spyOn(Buffer.prototype, 'indexOf').mockImplementation(function (
      this: Buffer,
      value: any,
      offset?: any,
      encoding?: any,
    ) {
      if (value === 0) tally.searched += this.length - (typeof offset === 'number' ? offset : 0);
      return indexOf.call(this, value, offset, encoding);
    });
    try {
      run();
    } finally {
      concatSpy.mockRestore();
      indexOfSpy.mockRestore();
    }
    return tally;
  }

  it('reassembles a large body from many chunks copying and searching each byte a bounded number of times', () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
    const split = (frame: Buffer) =>
      Array.from({ length: Math.ceil(frame.length / (16 * 1024)) }, (_, i) =>
        frame.subarray(i * 16 * 1024, (i + 1) * 16 * 1024),
      );
    // 256 chunks: re-joining or re-searching the buffered bytes on every read would cost ~128 times the frame.
    const counted = Buffer.concat([
      Buffer.from(`SEND\ndestination:a\ncontent-length:${body.length}\n\n`),
      body,
      Buffer.from([0]),
    ]);
    let frames: Frame[] = [];
    const withLength = work(() => (frames = parseAll(split(counted)).frames));
    expect(frames[0]!.body.equals(body)).toBe(true);
    expect(withLength.copied).toBeLessThanOrEqual(2 * counted.length);
    const terminated = Buffer.concat([Buffer.from('SEND\ndestination:a\n\n'), body, Buffer.from([0])]);
    const withNul = work(
      () => (frames = parseAll(split(terminated), { ...DEFAULT_LIMITS, maxBodyBytes: 8 * 1024 * 1024 }).frames),
    );
    expect(frames[0]!.body.equals(body)).toBe(true);
    expect(withNul.copied).toBeLessThanOrEqual(2 * terminated.length);
    expect(withNul.searched).toBeLessThanOrEqual(2 * terminated.length);
  });
});

describe('STOMP frame encoder', () => {
  it('always adds content-length for MESSAGE and ERROR and ends with NUL', () => {
    const out = encodeFrame('ERROR', { message: 'bad' }, 'bad thing');
    expect(out.toString()).toBe('ERROR\nmessage:bad\ncontent-length:9\n\nbad thing\0');
  });

  it('writes MESSAGE headers in vdsm order with a UTF-8 byte length', () => {
    const text = encodeJsonMessage('jms.topic.vdsm_responses', 'sub-1', '{"x":"é"}');
    expect(text).toBe(
      'MESSAGE\ndestination:jms.topic.vdsm_responses\ncontent-type:application/json\nsubscription:sub-1\ncontent-length:10\n\n{"x":"é"}\0',
    );
  });

  it('escapes header values except on CONNECTED, and round-trips through the parser', () => {
    expect(escapeHeader('a:b\\c\nd\re')).toBe('a\\cb\\\\c\\nd\\re');
    expect(unescapeHeader(escapeHeader('a:b\\c\nd\re'))).toBe('a:b\\c\nd\re');
    const frames: Frame[] = [];
    const p = new StompParser(
      (f) => frames.push(f),
      DEFAULT_LIMITS,
      () => {},
      SERVER_COMMANDS,
    );
    p.push(encodeFrame('MESSAGE', { destination: 'q:1', subscription: 's' }, 'body'));
    expect(frames[0]!.headers.destination).toBe('q:1');
    expect(frames[0]!.headers['content-length']).toBe('4');
  });
});
