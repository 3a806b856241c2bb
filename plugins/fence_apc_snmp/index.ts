import { defineAgent, FenceError, type PlugInfo } from '../../src/plugins/fence/agent.js';
import { SnmpSession } from '../../src/plugins/fence/transports/snmp.js';

/** How one PDU family exposes its outlets (APC PowerNet-MIB and Tripp Lite MIBs). */
interface Model {
  label: string;
  /** Outlet state column, control column, name table. */
  state: string;
  control: string;
  names: string;
  /** Values read back / written for on and off. */
  isOn: number;
  isOff: number;
  turnOn: number;
  turnOff: number;
  /** Outlets are addressed as switch.1.outlet (MasterSwitch plus). */
  switched?: boolean;
}

const APC = '1.3.6.1.4.1.318.1.1';
const RPDU: Model = {
  label: 'APC rPDU',
  state: `${APC}.12.3.5.1.1.4`,
  control: `${APC}.12.3.3.1.1.4`,
  names: `${APC}.12.3.5.1.1.2`,
  isOn: 1,
  isOff: 2,
  turnOn: 1,
  turnOff: 2,
};
const MASTER_SWITCH: Model = {
  label: 'APC MasterSwitch (fallback)',
  state: `${APC}.4.4.2.1.3`,
  control: `${APC}.4.4.2.1.3`,
  names: `${APC}.4.4.2.1.4`,
  isOn: 1,
  isOff: 2,
  turnOn: 1,
  turnOff: 2,
};
const TRIPP = '1.3.6.1.4.1.850';

/** By sysObjectID; anything else is driven as the oldest MasterSwitch, which every APC PDU answers. */
const MODELS: Record<string, Model> = {
  '1.3.6.1.4.1.318.1.3.4.5': RPDU,
  '1.3.6.1.4.1.318.1.3.4.4': {
    label: 'APC MasterSwitch plus',
    state: `${APC}.6.7.1.1.5`,
    control: `${APC}.6.5.1.1.5`,
    names: `${APC}.6.7.1.1.4`,
    isOn: 1,
    isOff: 2,
    turnOn: 1,
    turnOff: 3,
    switched: true,
  },
  '1.3.6.1.4.1.318.1.3.4.6': { ...MASTER_SWITCH, label: 'APC MasterSwitch firmware 6.x', control: RPDU.control },
  [`${TRIPP}.1`]: {
    label: 'Tripp Lite PDU',
    state: `${TRIPP}.10.2.3.5.1.2.1`,
    control: `${TRIPP}.10.2.3.5.1.4.1`,
    names: `${TRIPP}.10.2.3.5.1.5`,
    isOn: 2,
    isOff: 1,
    turnOn: 2,
    turnOff: 1,
  },
  [`${TRIPP}.1.1.1`]: {
    label: 'Tripp Lite LX PDU',
    state: `${TRIPP}.1.1.3.2.3.3.1.1.4.1`,
    control: `${TRIPP}.1.1.3.2.3.3.1.1.6.1`,
    names: `${TRIPP}.1.1.3.2.3.3.1.1.2.1`,
    isOn: 2,
    isOff: 1,
    turnOn: 2,
    turnOff: 1,
  },
};
const SYS_OBJECT_ID = '1.3.6.1.2.1.1.2.0';

interface Outlet {
  sw: number;
  n: number;
}

interface Pdu {
  snmp: SnmpSession;
  model: Model;
  /** Plug argument → outlet, resolved once per run. */
  outlets: Map<string, Outlet>;
}

const column = (m: Model, base: string, o: Outlet) => (m.switched ? `${base}.${o.sw}.1.${o.n}` : `${base}.${o.n}`);
const outletOf = (m: Model, oid: string): Outlet => {
  const parts = oid.split('.').map(Number);
  return { n: parts.at(-1)!, sw: m.switched ? parts.at(-3)! : 1 };
};
const plugId = (m: Model, o: Outlet) => (m.switched ? `${o.sw}:${o.n}` : String(o.n));

function stateOf(m: Model, value: number | string | undefined): string {
  if (value === m.isOn) return 'on';
  if (value === m.isOff) return 'off';
  return `unknown (${value ?? 'no such outlet'})`;
}

/** A plug is `N`, `switch:N`, or an outlet name from the device's name table (which must name exactly one outlet). */
async function resolve(pdu: Pdu, plug: string | undefined): Promise<Outlet> {
  const key = plug ?? '';
  const known = pdu.outlets.get(key);
  if (known) return known;
  let outlet: Outlet;
  const numbered = /^(?:(\d+):)?(\d+)$/.exec(key);
  if (numbered) {
    outlet = { sw: Number(numbered[1] ?? 1), n: Number(numbered[2]) };
  } else {
    const hits = (await pdu.snmp.walk(pdu.model.names)).filter((vb) => String(vb.value) === key);
    if (hits.length === 0) throw new FenceError(`Failed: Can't find port with name ${key}!`);
    if (hits.length > 1)
      throw new FenceError(
        `Failed: Plug name ${key} is shared by outlets ${hits.map((h) => plugId(pdu.model, outletOf(pdu.model, h.oid))).join(', ')}`,
      );
    outlet = outletOf(pdu.model, hits[0]!.oid);
  }
  pdu.outlets.set(key, outlet);
  return outlet;
}

export default defineAgent<Pdu>({
  name: 'fence_apc_snmp',
  shortdesc: 'Fence agent for APC and Tripp Lite PDUs over SNMP',
  longdesc:
    'Switches an outlet of an APC (rPDU, MasterSwitch, MasterSwitch plus) or Tripp Lite power distribution unit ' +
    'off, on or through a reboot over SNMP v1, v2c or v3 (any authentication and privacy level). The plug is an ' +
    'outlet number or an outlet name. SNMP is spoken directly, so no community or key is ever passed to another program.',
  vendorUrl: 'http://www.apc.com',
  aliases: [{ name: 'fence_tripplite_snmp', shortdesc: 'Fence agent for Tripp Lite PDUs over SNMP' }],
  uses: ['ipaddr', 'login', 'passwd', 'port', 'snmp', 'snmp_version'],
  loginOptional: true,
  passwordOptional: true,
  defaults: { ipport: '161', snmp_version: '1', community: 'private' },
  async connect(o) {
    const snmp = new SnmpSession(o);
    try {
      const [id] = await snmp.get([SYS_OBJECT_ID]);
      const model = MODELS[String(id?.value ?? '').replace(/^\./, '')] ?? MASTER_SWITCH;
      return { snmp, model, outlets: new Map() };
    } catch (err) {
      snmp.close();
      throw err;
    }
  },
  async getPower(pdu, plug) {
    const [vb] = await pdu.snmp.get([column(pdu.model, pdu.model.state, await resolve(pdu, plug))]);
    return stateOf(pdu.model, vb?.value);
  },
  async setPower(pdu, plug, want) {
    const m = pdu.model;
    await pdu.snmp.setInteger(column(m, m.control, await resolve(pdu, plug)), want === 'on' ? m.turnOn : m.turnOff);
  },
  async list(pdu, o) {
    const m = pdu.model;
    const plugs: (PlugInfo & Outlet)[] = (await pdu.snmp.walk(m.names)).map((vb) => {
      const outlet = outletOf(m, vb.oid);
      return { ...outlet, plug: plugId(m, outlet), alias: String(vb.value) };
    });
    // Upstream prints UNKNOWN for every outlet; we read the states (only for list-status, not list or monitor).
    if (o.action === 'list-status') {
      for (let i = 0; i < plugs.length; i += 16) {
        const chunk = plugs.slice(i, i + 16);
        const states = await pdu.snmp.get(chunk.map((p) => column(m, m.state, p)));
        chunk.forEach((p, j) => (p.state = stateOf(m, states[j]?.value)));
      }
    }
    return plugs.map(({ plug, alias, state }) => ({ plug, alias, state }));
  },
  disconnect: async (pdu) => pdu.snmp.close(),
});
