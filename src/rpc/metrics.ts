/**
 * The wire's Prometheus metrics (docs/metrics.md): JSON-RPC requests and their durations, connections by protocol,
 * events sent. They live on a registry the caller owns (no prom-client global: two services in one process, as in
 * tests, must not share counters). The dispatcher and the listener call these on every request and connection, so
 * each keeps its label children: prom-client hashes the labels on every `inc` otherwise.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type WireProtocol = 'stomp' | 'http';

/** Where an unregistered method name is counted: a client must not grow the label set. */
export const UNKNOWN_METHOD = 'unknown';

/** Seconds: most verbs answer in well under a millisecond, VM.create or Host.fenceNode take seconds. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The family of an event method `|<component>|<operation>|<unique id>`: `<component>|<operation>`, without the
 * id (a VM id would make one series per VM).
 */
export function eventFamily(method: string): string {
  const parts = method.split('|');
  return parts.length >= 3 ? `${parts[1]}|${parts[2]}` : 'other';
}

export class WireMetrics {
  private readonly requests: Counter<'method' | 'code'>;
  private readonly durations: Histogram<'method'>;
  private readonly open: Gauge<'protocol'>;
  private readonly accepted: Counter<'protocol'>;
  private readonly events: Counter<'event'>;
  private readonly requestChildren = new Map<string, Counter.Internal>();
  private readonly durationChildren = new Map<string, Histogram.Internal<'method'>>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'vdsm_rpc_requests_total',
      help: 'JSON-RPC requests answered, by method (unknown: not a registered verb) and result code (0: success, else the vdsm or JSON-RPC error code).',
      labelNames: ['method', 'code'],
      registers,
    });
    this.durations = new Histogram({
      name: 'vdsm_rpc_request_duration_seconds',
      help: 'Time from a JSON-RPC request parsed to its answer ready, by method.',
      labelNames: ['method'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.open = new Gauge({
      name: 'vdsm_connections',
      help: 'Client connections open on the management port, by protocol (after protocol detection).',
      labelNames: ['protocol'],
      registers,
    });
    this.accepted = new Counter({
      name: 'vdsm_connections_accepted_total',
      help: 'Client connections accepted on the management port, by protocol (after TLS and protocol detection).',
      labelNames: ['protocol'],
      registers,
    });
    this.events = new Counter({
      name: 'vdsm_events_sent_total',
      help: 'Event notifications written to subscribers of jms.queue.events (one per subscriber), by event family <component>|<operation>, e.g. virt|VM_status.',
      labelNames: ['event'],
      registers,
    });
    for (const protocol of ['stomp', 'http'] as const) {
      this.open.set({ protocol }, 0);
      this.accepted.inc({ protocol }, 0);
    }
  }

  /** One answered request; `method` must already be bounded (a registered name or UNKNOWN_METHOD). */
  request(method: string, code: number, seconds: number): void {
    const key = `${method}\0${code}`;
    let counter = this.requestChildren.get(key);
    if (!counter) this.requestChildren.set(key, (counter = this.requests.labels(method, String(code))));
    counter.inc();
    let histogram = this.durationChildren.get(method);
    if (!histogram) this.durationChildren.set(method, (histogram = this.durations.labels(method)));
    histogram.observe(seconds);
  }

  connectionOpened(protocol: WireProtocol): void {
    this.accepted.inc({ protocol });
    this.open.inc({ protocol });
  }

  connectionClosed(protocol: WireProtocol): void {
    this.open.dec({ protocol });
  }

  eventSent(method: string, subscribers: number): void {
    if (subscribers > 0) this.events.inc({ event: eventFamily(method) }, subscribers);
  }
}
