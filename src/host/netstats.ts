import { listLinkNames, readLinkInfo, readVlanConfig } from './links.js';
import { readNetDev } from './proc.js';

/** One interface's counters and link facts at one instant. */
export interface InterfaceSample {
  name: string;
  state: 'up' | 'down';
  /** Mbps, 0 when unknown. */
  speed: number;
  duplex: string;
  rx: number;
  tx: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
  /** Epoch seconds (float) when the counters were read. */
  sampleTime: number;
}

/** Reads every link's counters; links that vanish between listing and reading are skipped. */
export async function readInterfaces(): Promise<InterfaceSample[]> {
  const [names, counters, vlans] = await Promise.all([listLinkNames(), readNetDev(), readVlanConfig()]);
  const sampleTime = Date.now() / 1000;
  const samples = await Promise.all(
    names.map(async (name): Promise<InterfaceSample | undefined> => {
      const c = counters.get(name);
      if (!c) return undefined;
      const link = await readLinkInfo(name, vlans);
      return {
        name,
        state: link.up ? 'up' : 'down',
        speed: link.speed,
        duplex: link.duplex,
        rx: c.rxBytes,
        tx: c.txBytes,
        rxErrors: c.rxErrors,
        txErrors: c.txErrors,
        rxDropped: c.rxDropped,
        txDropped: c.txDropped,
        sampleTime,
      };
    }),
  );
  return samples.filter((s): s is InterfaceSample => s !== undefined);
}
