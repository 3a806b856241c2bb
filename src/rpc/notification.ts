import type { HostEvent } from '../common/events.js';

/** The JSON-RPC notification text of an event (no id: the engine classifies it as an event). */
export function eventToJson(event: HostEvent): string {
  return JSON.stringify({ jsonrpc: '2.0', method: event.method, params: event.params });
}
