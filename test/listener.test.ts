import { afterEach, describe, expect, it } from 'vitest';
import { listen, type Listener } from '../src/rpc/server.js';
import { StompBroker } from '../src/rpc/stomp/broker.js';
import { EventBus } from '../src/common/events.js';
import { eventToJson } from '../src/rpc/notification.js';
import { captureLog } from './support/capture-log.js';
import { RawStomp } from './support/raw-stomp.js';

let listener: Listener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

async function start(handshakeTimeoutMs?: number) {
  const { log, lines } = captureLog();
  const broker = new StompBroker({ log, onRequest: async () => null });
  listener = await listen({ host: '127.0.0.1', port: 0, broker, log, handshakeTimeoutMs });
  return { broker, port: listener.address.port, lines };
}

describe('listener', () => {
  it('closes a connection that sends nothing before the detection timeout', async () => {
    const { port, lines } = await start(300);
    const c = await RawStomp.connect(port);
    const t0 = Date.now();
    expect(await c.waitClosed(3000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(lines().some((l) => l.protocol === 'timeout')).toBe(true);
  });

  it('accepts heart-beat EOLs before the first frame and decides on a short CONNECT', async () => {
    const { port } = await start();
    const c = await RawStomp.connect(port);
    c.write('\n\r\nCONNECT\n\n\0');
    // No accept-version: STOMP 1.2 is required, so an ERROR, but on a connection that was recognised as STOMP.
    expect((await c.nextFrame('ERROR')).body.toString()).toBe('Version unsupported');
    c.close();
  });

  it('takes a first read of any size that starts with a frame as STOMP (CONNECT with a big SEND behind it)', async () => {
    const { port } = await start();
    const c = await RawStomp.connect(port);
    const body = 'x'.repeat(64 * 1024);
    c.write(`CONNECT\naccept-version:1.2\n\n\0SEND\ndestination:nowhere\ncontent-length:${body.length}\n\n${body}\0`);
    expect((await c.nextFrame('CONNECTED')).headers.version).toBe('1.2');
    c.close();
  });

  it('closes a connection that floods EOLs without ever sending a frame', async () => {
    const { port, lines } = await start();
    const c = await RawStomp.connect(port);
    c.write('\n'.repeat(10_000));
    expect(await c.waitClosed(3000)).toBe(true);
    expect(lines().some((l) => l.protocol === 'unknown')).toBe(true);
  });

  it('sends an EOL heart-beat when silent for the negotiated interval, and none when not asked', async () => {
    const { port } = await start();
    const asked = await RawStomp.connect(port);
    asked.send('CONNECT', { 'accept-version': '1.2', 'heart-beat': '0,1000' });
    expect((await asked.nextFrame('CONNECTED')).headers['heart-beat']).toBe('1000,0');
    // Not faster than asked (a lower bound holds however slow the machine is); 8 s is four times what 2 beats need.
    const t0 = Date.now();
    expect(await asked.until(() => asked.heartbeats >= 2, 8000)).toBe(true);
    expect((Date.now() - t0) / 2).toBeGreaterThan(600);
    const quiet = await RawStomp.connect(port);
    quiet.send('CONNECT', { 'accept-version': '1.2' });
    expect((await quiet.nextFrame('CONNECTED')).headers['heart-beat']).toBe('0,0');
    // Two more beats to the asked client: the server's heart-beat timers ran for the quiet one too.
    const beats = asked.heartbeats;
    expect(await asked.until(() => asked.heartbeats >= beats + 2, 8000)).toBe(true);
    expect(quiet.heartbeats).toBe(0);
    asked.close();
    quiet.close();
  });

  it('drops a client that promised heart-beats and went silent', async () => {
    const { port } = await start();
    const c = await RawStomp.connect(port);
    c.send('CONNECT', { 'accept-version': '1.2', 'heart-beat': '1000,0' });
    await c.nextFrame('CONNECTED');
    expect(await c.waitClosed(5000)).toBe(true);
  });

  it('delivers bus events to jms.queue.events subscribers with vdsm naming and notify_time', async () => {
    const { broker, port } = await start();
    const bus = new EventBus();
    bus.subscribe((e) => broker.publishEvent(eventToJson(e)));
    const c = await RawStomp.connect(port);
    c.send('CONNECT', { 'accept-version': '1.2' });
    c.send('SUBSCRIBE', { destination: 'jms.queue.events', id: 'ev', receipt: 'r' });
    await c.nextFrame('RECEIPT');
    bus.publish('virt', 'VM_status', 'vm-1', { 'vm-1': { status: 'Up' } });
    const frame = await c.nextFrame('MESSAGE');
    expect(frame.headers).toMatchObject({
      destination: 'jms.queue.events',
      'content-type': 'application/json',
      subscription: 'ev',
    });
    const body = JSON.parse(frame.body.toString());
    expect(body).toMatchObject({
      jsonrpc: '2.0',
      method: '|virt|VM_status|vm-1',
      params: { 'vm-1': { status: 'Up' } },
    });
    expect(body).not.toHaveProperty('id');
    expect(Number.isInteger(body.params.notify_time)).toBe(true);
    expect(body.params.notify_time).toBeGreaterThan(2147483647);
    c.close();
  });
});
