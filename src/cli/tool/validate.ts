import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config-error.js';
import { rooted, type ToolContext } from './context.js';
import { loadVdsmConf, VDSM_CONF } from './vdsm-conf.js';

/**
 * validate-config: vdsm.conf (and its drop-ins) through vdsmd's own loader, then, with ssl on, the TLS files as
 * vdsmd's listener will load them (readable, the key matching the certificate). 0 when vdsmd would start on them.
 */
export async function validateConfig(ctx: ToolContext): Promise<number> {
  let config;
  try {
    config = loadVdsmConf(ctx);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    ctx.err(`${VDSM_CONF}: ${err.message}`);
    return 1;
  }
  const problems: string[] = [];
  if (config.ssl) {
    const files: Record<string, Buffer> = {};
    for (const [what, setting, path] of [
      ['key', 'ssl_key', config.sslKey],
      ['cert', 'ssl_cert', config.sslCert],
      ['ca', 'ssl_ca', config.sslCa],
    ] as const) {
      try {
        files[what] = readFileSync(rooted(ctx, path));
      } catch (err) {
        problems.push(
          `ssl is on but ${setting} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
        );
      }
    }
    if (problems.length === 0) {
      try {
        createSecureContext({ key: files.key, cert: files.cert, ca: files.ca });
      } catch (err) {
        problems.push(`ssl_key, ssl_cert and ssl_ca do not make a TLS setup: ${(err as Error).message}`);
      }
    }
  }
  for (const p of problems) ctx.err(`${VDSM_CONF}: ${p}`);
  return problems.length ? 1 : 0;
}
