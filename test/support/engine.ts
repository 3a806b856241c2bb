import { randomUUID } from 'node:crypto';
import { Client, type IFrame, type IMessage, Versions } from '@stomp/stompjs';
import { type ClientTls, socketFactory } from '../../src/rpc/client.js';
import { waitFor, Wakeup } from './wait.js';

/**
 * An engine-like client on @stomp/stompjs that does what vdsm-jsonrpc-java does on a new connection:
 * CONNECT with `accept-version:1.2`, `host:null`, `heart-beat:0,15000`; SUBSCRIBE to the events queue and to
 * `jms.topic.vdsm_responses` with random UUID ids; each request a SEND with `reply-to:jms.topic.vdsm_responses`,
 * an `ovirtCorrelationId` and a compact JSON body with a UUID id and named params.
 */
export class EngineClient {
  connected!: IFrame;
  readonly events: any[] = [];
  readonly replies = new Map<string, any>();
  private readonly messages = new Wakeup();

  private constructor(private readonly stomp: Client) {}

  static async connect(port: number, tls?: ClientTls): Promise<EngineClient> {
    const stomp = new Client({
      webSocketFactory: socketFactory('127.0.0.1', port, tls),
      stompVersions: new Versions([Versions.V1_2]),
      connectHeaders: { host: 'null' },
      heartbeatIncoming: 15_000,
      heartbeatOutgoing: 0,
      reconnectDelay: 0,
      debug: () => {},
    });
    const engine = new EngineClient(stomp);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('engine client: no CONNECTED within 10 s')), 10_000);
      stomp.onConnect = (frame) => {
        clearTimeout(timer);
        engine.connected = frame;
        stomp.subscribe('jms.queue.events', (m) => engine.onMessage(m, true), { id: randomUUID(), ack: 'auto' });
        stomp.subscribe('jms.topic.vdsm_responses', (m) => engine.onMessage(m, false), {
          id: randomUUID(),
          ack: 'auto',
        });
        resolve();
      };
      stomp.onWebSocketClose = () => reject(new Error('engine client: connection closed'));
      stomp.onStompError = (f) => reject(new Error(`engine client: ERROR ${f.body}`));
      stomp.activate();
    });
    return engine;
  }

  private onMessage(message: IMessage, isEvent: boolean): void {
    const body = JSON.parse(message.body);
    if (isEvent) this.events.push({ headers: message.headers, body });
    else for (const reply of Array.isArray(body) ? body : [body]) this.replies.set(reply.id, reply);
    this.messages.wake();
  }

  /** Waits until `pred` holds, looking again on every message; fails closed: throws after `timeoutMs`. */
  async until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
    await waitFor('the engine client to receive what it waits for', pred, timeoutMs, 50, this.messages);
  }

  /** Sends one request the way the engine does and returns the whole JSON-RPC reply. */
  async request(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = randomUUID();
    this.stomp.publish({
      destination: 'jms.topic.vdsm_requests',
      headers: { 'reply-to': 'jms.topic.vdsm_responses', ovirtCorrelationId: randomUUID().slice(0, 8) },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id }),
    });
    await this.until(() => this.replies.has(id), 10_000);
    return this.replies.get(id);
  }

  async close(): Promise<void> {
    this.stomp.onWebSocketClose = () => {};
    await this.stomp.deactivate();
  }
}
