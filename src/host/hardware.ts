import { VdsmError } from '../common/errors.js';
import { readLine } from './read.js';

export interface HardwareInfo {
  systemManufacturer?: string;
  systemProductName?: string;
  systemVersion?: string;
  systemSerialNumber?: string;
  systemUUID?: string;
  systemFamily?: string;
}

/** Our field -> the DMI file holding what dmidecode prints for it. */
const DMI_FILES: Record<keyof HardwareInfo, string> = {
  systemManufacturer: 'sys_vendor',
  systemProductName: 'product_name',
  systemVersion: 'product_version',
  systemSerialNumber: 'product_serial',
  systemUUID: 'product_uuid',
  systemFamily: 'product_family',
};

/** Values firmware puts in unset DMI strings; vdsm drops "Not Specified" the same way. */
const PLACEHOLDERS = new Set(['', 'Not Specified']);

/**
 * Host.getHardwareInfo from /sys/class/dmi/id (serial and UUID need root). Unreadable fields are left
 * out; when nothing can be read at all (no DMI in containers and on many non-x86 hosts) it fails with
 * vdsm's hwInfoErr.
 */
export async function readHardwareInfo(dmiDir = '/sys/class/dmi/id'): Promise<HardwareInfo> {
  const info: HardwareInfo = {};
  for (const [field, file] of Object.entries(DMI_FILES) as [keyof HardwareInfo, string][]) {
    const value = await readLine(`${dmiDir}/${file}`);
    if (value === undefined || PLACEHOLDERS.has(value)) continue;
    // dmidecode, which vdsm uses, prints the UUID in upper case; sysfs has it in lower case.
    info[field] = field === 'systemUUID' ? value.toUpperCase() : value;
  }
  if (Object.keys(info).length === 0) throw VdsmError.of('hwInfoErr');
  return info;
}
