/** Drop-in fence plugins as an admin would install them (plain ESM source, written into a plugin_dir by tests). */

/** `fence_dummy`: an in-memory outlet that is on until told otherwise. */
export const DUMMY_POWER_PLUGIN = `let power = 'on';
export default {
  name: 'fence_dummy', shortdesc: 'Test agent', longdesc: 'In-memory power', uses: ['ipaddr', 'login', 'passwd'],
  connect: async () => ({}),
  getPower: async () => power,
  setPower: async (_c, _p, want) => { power = want; },
};`;
