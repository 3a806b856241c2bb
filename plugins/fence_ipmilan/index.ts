import { defineAgent } from '../../src/plugins/fence/agent.js';
import type { OptionSpec } from '../../src/plugins/fence/options.js';
import { Ipmitool } from './ipmitool.js';

const options: OptionSpec[] = [
  {
    key: 'auth',
    long: 'auth',
    short: 'A',
    arg: 'auth',
    type: 'select',
    choices: ['md5', 'password', 'none'],
    order: 1,
    description: 'IPMI authentication type',
  },
  {
    key: 'cipher',
    long: 'cipher',
    short: 'C',
    arg: 'cipher',
    type: 'string',
    order: 1,
    description: 'RMCP+ cipher suite (lanplus); pass one, some BMCs stall on the suite query',
  },
  {
    key: 'hexadecimal_kg',
    long: 'hexadecimal-kg',
    arg: 'key',
    type: 'string',
    order: 1,
    secret: true,
    description: 'BMC key (Kg) in hexadecimal, for IPMI 2.0 sessions',
  },
  {
    key: 'lanplus',
    long: 'lanplus',
    short: 'P',
    type: 'boolean',
    default: '0',
    order: 1,
    description: 'Use IPMI 2.0 (RMCP+) instead of IPMI 1.5',
  },
  {
    key: 'privlvl',
    long: 'privlvl',
    short: 'L',
    arg: 'level',
    type: 'select',
    choices: ['callback', 'user', 'operator', 'administrator'],
    default: 'administrator',
    order: 1,
    description: 'Privilege level on the BMC',
  },
  {
    key: 'target',
    long: 'target',
    arg: 'targetaddress',
    type: 'string',
    order: 1,
    description: 'Bridge the request to this IPMB address',
  },
  {
    key: 'ipmitool_path',
    long: 'ipmitool-path',
    arg: 'path',
    type: 'string',
    default: '/usr/bin/ipmitool',
    order: 200,
    description: 'Path of ipmitool',
  },
  {
    key: 'ipmitool_timeout',
    long: 'ipmitool-timeout',
    arg: 'timeout',
    type: 'string',
    default: '2',
    order: 201,
    description: "ipmitool's retransmit interval in seconds (-N)",
  },
  { key: 'sudo', long: 'use-sudo', type: 'boolean', order: 205, description: 'Run helper programs through sudo' },
  {
    key: 'sudo_path',
    long: 'sudo-path',
    arg: 'path',
    type: 'string',
    default: '/usr/bin/sudo',
    order: 300,
    description: 'Path of sudo',
  },
];

const lanplus = (name: string, shortdesc: string, powerWait = '2') => ({
  name,
  shortdesc,
  defaults: { lanplus: '1', power_wait: powerWait },
});

export default defineAgent<Ipmitool>({
  name: 'fence_ipmilan',
  shortdesc: 'Fence agent for IPMI',
  longdesc:
    'Powers a machine off, on or through a reboot via its BMC, speaking IPMI over the LAN with ipmitool. ' +
    'The password reaches ipmitool through its environment, never its command line.',
  aliases: [
    lanplus('fence_ilo3', 'Fence agent for HP iLO3', '4'),
    lanplus('fence_ilo4', 'Fence agent for HP iLO4'),
    lanplus('fence_ilo5', 'Fence agent for HP iLO5'),
    lanplus('fence_ipmilanplus', 'Fence agent for IPMIv2 lanplus'),
    { name: 'fence_imm', shortdesc: 'Fence agent for IBM Integrated Management Module' },
    { name: 'fence_idrac', shortdesc: 'Fence agent for Dell iDRAC' },
  ],
  uses: ['ipaddr', 'login', 'passwd', 'method'],
  loginOptional: true,
  passwordOptional: true,
  defaults: { ipport: '623', power_wait: '2' },
  options,
  connect: async (o) => new Ipmitool(o),
  getPower: async (ipmi) =>
    /Chassis Power is (on|off)/i.exec((await ipmi.run('chassis', 'power', 'status')).output)?.[1]?.toLowerCase() ??
    'unknown',
  setPower: async (ipmi, _plug, want) => void (await ipmi.run('chassis', 'power', want)),
  cycle: async (ipmi) => /Chassis Power Control: Cycle/i.test((await ipmi.run('chassis', 'power', 'cycle')).output),
  diag: async (ipmi) => /Chassis Power Control: Diag/i.test((await ipmi.run('chassis', 'power', 'diag')).output),
});
