/** A setting vdsmd cannot use, with a message fit for the admin. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
