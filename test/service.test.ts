import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVdsmd, type Vdsmd } from '../src/cli/service.js';
import { captureLog } from './support/capture-log.js';
import { testConfig } from './support/config.js';
import { EngineClient } from './support/engine.js';

let service: Vdsmd;
let engine: EngineClient;

beforeAll(async () => {
  const { log } = captureLog();
  service = await startVdsmd(testConfig(), { log });
  await service.recovered;
  engine = await EngineClient.connect(service.port);
  // Frames are handled in order: once this is answered, the engine's SUBSCRIBEs are in place.
  await engine.request('Host.ping2');
});

afterAll(async () => {
  await engine?.close();
  await service?.close();
});

describe('vdsmd service wiring', () => {
  it('delivers what is published on the event bus to the engine on jms.queue.events', async () => {
    service.events.publish('virt', 'VM_status', 'a7c1', { a7c1: { status: 'Paused' } });
    await engine.until(() => engine.events.length === 1);
    const [event] = engine.events;
    expect(event.headers.destination).toBe('jms.queue.events');
    expect(event.body.method).toBe('|virt|VM_status|a7c1');
    expect(event.body.params.a7c1).toEqual({ status: 'Paused' });
    expect(event.body.params.notify_time).toBeGreaterThan(2147483647);
  });

  it('while not ready answers every verb with 99 and holds events back, then serves again', async () => {
    service.setReady(false);
    try {
      expect((await engine.request('Host.ping2')).error).toEqual({
        code: 99,
        message: 'Recovering from crash or Initializing',
      });
      expect((await engine.request('Host.getStats')).error.code).toBe(99);
      service.events.publish('virt', 'VM_status', 'held', { held: { status: 'Up' } });
    } finally {
      service.setReady(true);
    }
    expect((await engine.request('Host.ping2')).result).toBe(true);
    service.events.publish('virt', 'VM_status', 'after', { after: { status: 'Up' } });
    await engine.until(() => engine.events.some((e) => e.body.method === '|virt|VM_status|after'));
    expect(engine.events.map((e) => e.body.method)).not.toContain('|virt|VM_status|held');
  });
});
