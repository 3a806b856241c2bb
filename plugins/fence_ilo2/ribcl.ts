import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { XMLParser } from 'fast-xml-parser';
import { FenceError, type FenceOptions } from '../../src/plugins/fence/agent.js';
import { dialogue, HIDDEN } from '../../src/plugins/fence/dialogue.js';
import { ms, num } from '../../src/plugins/fence/validate.js';
import { escapeXml } from '../../src/plugins/fence/xml.js';

/** One parsed reply document: the RESPONSE's STATUS/MESSAGE and every element by (upper-case) name. */
export interface RibclReply {
  status: number;
  message: string;
  /** Attributes of the first element of that name anywhere in the document. */
  element(name: string): Record<string, string> | undefined;
}

const LOGIN_FAILED = new FenceError('Unable to connect/login to fencing device');
/** RIBCL status codes (as python-hpilo knows them) that mean the credentials were refused. */
const LOGIN_CODES = new Set([0x005f, 0x000a]);
const NO_PRIVILEGE = 0x0023;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  transformTagName: (n) => n.toUpperCase(),
  transformAttributeName: (n) => n.toUpperCase(),
});

/** XML attribute value, always double-quoted; `&`, `<`, `>`, `"` and line breaks become references. */
export function xmlAttr(value: string): string {
  return `"${escapeXml(value)}"`;
}

function findElement(node: unknown, name: string): Record<string, string> | undefined {
  if (Array.isArray(node)) {
    for (const n of node) {
      const hit = findElement(n, name);
      if (hit) return hit;
    }
    return undefined;
  }
  if (!node || typeof node !== 'object') return undefined;
  for (const [key, child] of Object.entries(node)) {
    if (key === name) {
      const first: unknown = Array.isArray(child) ? child[0] : child;
      const attrs: Record<string, string> = {};
      if (first && typeof first === 'object') {
        for (const [k, v] of Object.entries(first)) if (k.startsWith('@')) attrs[k.slice(1)] = String(v);
      }
      return attrs;
    }
    if (!key.startsWith('@')) {
      const hit = findElement(child, name);
      if (hit) return hit;
    }
  }
  return undefined;
}

/**
 * Parses one complete reply document. The stream as a whole is never a finished document (one TLS session, an
 * unclosed outer RIBCL on our side, one reply document per command on the device's), so the session cuts it at
 * each `</RIBCL>` / `<END_RIBCL/>` and gives fast-xml-parser one whole document at a time: attribute quoting,
 * spacing and entities are then the parser's business, not a regex's. Its lenient mode also copes with the
 * broken self-closed `<RIBCL VERSION="2.22"/>` some iLO2 firmware emits.
 */
export function parseReply(doc: string): RibclReply {
  let tree: unknown;
  try {
    tree = parser.parse(doc.replace(/<END_RIBCL\s*\/>/gi, ''));
  } catch {
    throw new FenceError('Failed: unreadable RIBCL reply from the fencing device');
  }
  const responses: Record<string, string>[] = [];
  (function collect(node: unknown): void {
    if (Array.isArray(node)) return node.forEach(collect);
    if (!node || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'RESPONSE')
        for (const r of Array.isArray(child) ? child : [child])
          responses.push(findElement({ RESPONSE: r }, 'RESPONSE')!);
      else if (!key.startsWith('@')) collect(child);
    }
  })(tree);
  const bad = responses.find((r) => parseInt(r.STATUS ?? '0', 16) !== 0) ?? responses[0];
  return {
    status: parseInt(bad?.STATUS ?? '0', 16) || 0,
    message: bad?.MESSAGE ?? '',
    element: (name) => findElement(tree, name.toUpperCase()),
  };
}

/** The error for a reply with a non-zero STATUS. Device messages never contain what we sent (no password). */
function replyError(reply: RibclReply): FenceError {
  if (LOGIN_CODES.has(reply.status)) return LOGIN_FAILED;
  if (reply.status === NO_PRIVILEGE)
    return new FenceError('Failed: The user does not have the correct privileges to do the requested action.');
  const code = `0x${reply.status.toString(16).toUpperCase().padStart(4, '0')}`;
  return new FenceError(
    `Failed: the fencing device answered ${code}${reply.message ? `: ${reply.message.replace(/[\r\n]+/g, ' ').trim()}` : ''}`,
  );
}

/** The device closed the session (upstream's pexpect EOF). */
class Closed extends Error {}

/**
 * A RIBCL session over one TLS connection, as ClusterLabs' fence_ilo holds it (but in process, no gnutls-cli):
 * the bare XML declaration asks the device for its RIBCL version, one outer `<RIBCL>` is opened, then every
 * command travels in its own LOGIN block and is answered by its own document. Unlike upstream, every reply's
 * RESPONSE STATUS is read, so a refused login or command fails at once instead of after a timeout.
 */
export class RibclSession {
  /** RIBCL version in use (detected, or forced with --ribcl-version). */
  version = 0;
  /** GET_FW_VERSION's answer (RIBCL >= 2 only). */
  firmware?: { version: number; processor: string };
  private buf = '';
  private readonly docs: string[] = [];
  private wake?: () => void;
  private ended?: Error;
  private readonly talk = dialogue();

  private constructor(
    private readonly socket: TLSSocket,
    private readonly o: FenceOptions,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      for (
        let m = /<\/RIBCL\s*>|<END_RIBCL\s*\/>/i.exec(this.buf);
        m;
        m = /<\/RIBCL\s*>|<END_RIBCL\s*\/>/i.exec(this.buf)
      ) {
        this.docs.push(this.buf.slice(0, m.index + m[0].length));
        this.buf = this.buf.slice(m.index + m[0].length);
      }
      this.wake?.();
    });
    const end = (err?: Error) => {
      this.ended ??= err ?? new Closed('Connection lost');
      this.wake?.();
    };
    socket.on('end', () => end());
    socket.on('close', () => end());
    socket.on('error', (err) => end(err));
  }

  /** Connects, detects the RIBCL version and logs in once (reading the firmware version on RIBCL >= 2). */
  static async open(o: FenceOptions): Promise<RibclSession> {
    let session: RibclSession;
    try {
      session = await RibclSession.probe(o, o['tls1.0'] === true);
    } catch (err) {
      // As upstream: a device that hangs up on the first exchange gets one more try with TLS 1.0.
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const eof = err instanceof Closed || code === 'ECONNRESET' || /^ERR_SSL_(?!.*CERT)/.test(code);
      if (!eof || o['tls1.0'] === true || o.notls === true) throw err instanceof Closed ? LOGIN_FAILED : err;
      session = await RibclSession.probe(o, true).catch((e: unknown) => {
        throw e instanceof Closed ? LOGIN_FAILED : e;
      });
    }
    try {
      await session.login();
      return session;
    } catch (err) {
      session.close();
      throw err instanceof Closed ? LOGIN_FAILED : err;
    }
  }

  private static async probe(o: FenceOptions, tls10: boolean): Promise<RibclSession> {
    const host = String(o.ipaddr);
    const tls: ConnectionOptions = {
      host,
      port: Number(o.ipport ?? 443),
      rejectUnauthorized: o.ssl_insecure !== true,
    };
    if (!isIP(host)) tls.servername = host;
    // Node has no SSL 3.0 at all: --notls gets the oldest protocol it has, TLS 1.0, like --tls1.0; both lower
    // OpenSSL's security level so the old ciphers and SHA-1 signatures of such devices are allowed.
    if (tls10 || o.notls === true)
      Object.assign(tls, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    const limit = ms(o, 'login_timeout');
    dialogue().note(`Connecting to ${host}:${String(tls.port)} over TLS${tls10 || o.notls === true ? ' 1.0' : ''}`);
    const socket = tlsConnect(tls);
    const session = new RibclSession(socket, o);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = limit > 0 ? setTimeout(() => reject(LOGIN_FAILED), limit) : undefined;
        socket.once('secureConnect', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        socket.once('close', () => {
          clearTimeout(timer);
          reject(new Closed('Connection lost'));
        });
      });
      session.send('<?xml version="1.0"?>\r\n');
      // The answer to a bare declaration is usually an error document; only its RIBCL VERSION matters.
      const raw = await session.nextRaw(limit, LOGIN_FAILED);
      const detected = parseFloat(/<RIBCL\s+VERSION\s*=\s*["']([^"']*)["']/i.exec(raw)?.[1] ?? '');
      const forced = typeof o.ribcl === 'string' && o.ribcl !== '' ? parseFloat(o.ribcl) : NaN;
      session.version = Number.isNaN(forced) ? detected : forced;
      if (Number.isNaN(session.version))
        throw new FenceError('Failed: the fencing device did not report its RIBCL version');
      return session;
    } catch (err) {
      session.close();
      throw err;
    }
  }

  private async login(): Promise<void> {
    this.send(`<RIBCL VERSION="${this.version >= 2 ? '2.0' : '1.2'}">\r\n`);
    if (this.version < 2) {
      // Nothing to ask an old iLO: a refused login shows in the first command's reply.
      this.send(`${this.loginTag(false)}\r\n</LOGIN>\r\n`, `${this.loginTag(true)}\r\n</LOGIN>\r\n`);
      return;
    }
    const reply = await this.exchange(
      'RIB_INFO',
      'read',
      '<GET_FW_VERSION/>',
      num(this.o, 'shell_timeout'),
      'GET_FW_VERSION',
    );
    const fw = reply.element('GET_FW_VERSION')!;
    this.firmware = { version: parseFloat(fw.FIRMWARE_VERSION ?? '0') || 0, processor: fw.MANAGEMENT_PROCESSOR ?? '' };
  }

  /** The LOGIN tag, or as the log shows it (`hidden`): the password masked. */
  private loginTag(hidden: boolean): string {
    const password = hidden ? HIDDEN : String(this.o.passwd ?? '');
    return `<LOGIN USER_LOGIN=${xmlAttr(String(this.o.login ?? ''))} PASSWORD=${xmlAttr(password)}>`;
  }

  /** Writes to the device; the dialogue log gets `shown` (the text with its password masked). */
  private send(text: string, shown = text): void {
    this.talk.sent(shown);
    this.socket.write(text);
  }

  /**
   * Sends one command in its own LOGIN block and returns the reply document that holds `expect` (or the first
   * reply when no element is expected). A reply with a non-zero STATUS fails at once; `timeout` seconds (0 = no
   * limit) bound the wait, as upstream's shell/power timeouts do.
   */
  async command(
    section: 'RIB_INFO' | 'SERVER_INFO',
    mode: 'read' | 'write',
    body: string,
    timeout: number,
    expect?: string,
  ): Promise<RibclReply> {
    try {
      return await this.exchange(section, mode, body, timeout, expect);
    } catch (err) {
      throw err instanceof Closed ? new FenceError('Connection lost') : err;
    }
  }

  private async exchange(
    section: string,
    mode: string,
    body: string,
    timeout: number,
    expect?: string,
  ): Promise<RibclReply> {
    const block = `\r\n<${section} MODE="${mode}">${body}\r\n</${section}>\r\n</LOGIN>\r\n`;
    this.send(this.loginTag(false) + block, this.loginTag(true) + block);
    const deadline = timeout > 0 ? Date.now() + timeout * 1000 : 0;
    for (;;) {
      const left = deadline ? Math.max(1, deadline - Date.now()) / 1000 : 0;
      const reply = parseReply(await this.nextRaw(left, new FenceError('Connection timed out')));
      if (reply.status !== 0) throw replyError(reply);
      // A reply without the element answers something else (e.g. a device's extra document): skip it.
      if (!expect || reply.element(expect)) return reply;
    }
  }

  /** The next complete reply document as text, within `timeout` seconds (0 = no limit); Closed at EOF. */
  private async nextRaw(timeout: number, onTimeout: Error): Promise<string> {
    const deadline = timeout > 0 ? Date.now() + timeout * 1000 : 0;
    for (;;) {
      const doc = this.docs.shift();
      if (doc !== undefined) {
        this.talk.received(doc);
        return doc;
      }
      if (this.ended) throw this.ended;
      const left = deadline ? deadline - Date.now() : Number.POSITIVE_INFINITY;
      if (left <= 0) throw onTimeout;
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(left) ? setTimeout(resolve, left) : undefined;
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Ends the session (closing the outer RIBCL, which upstream never does) without waiting for the device. */
  close(): void {
    if (!this.socket.destroyed) this.socket.end('</RIBCL>\r\n');
    this.socket.unref();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}
