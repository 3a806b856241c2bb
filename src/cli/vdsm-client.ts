import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { RemoteError, VdsmClient } from '../rpc/client.js';
import { VERBS } from '../verbs/catalogue.js';
import { describeParams, paramsTemplate } from '../verbs/docs.js';

const USAGE = `Usage: vdsm-client [-a HOST] [-p PORT] [--insecure] [--timeout SEC] [--flow-id ID]
                   [--key FILE] [--cert FILE] [--ca FILE] [-f FILE] Namespace method [name=value ...]

Calls one vdsmd verb and prints its result as JSON. name=value arguments are passed as strings, which
vdsmd takes for boolean (true, false, 1, 0) and integer params; for lists and objects put the params
in a JSON file and pass -f FILE (-f - reads standard input).

  -a, --host HOST   vdsmd's host (default localhost)
  -p, --port PORT   vdsmd's port (default 54321)
  --insecure        plaintext instead of TLS
  --timeout SEC     request timeout (default 60)
  --flow-id ID      correlation id logged by vdsmd with the request
  --key/--cert/--ca our client key, certificate and the CA (default vdsm's, under /etc/pki/vdsm)
  -h, --help        help; after a namespace, its methods; after a method, its params

Namespaces: ${[...new Set(VERBS.map((v) => v.name.split('.')[0]))].join(', ')}
`;

const fail = (text: string): never => {
  process.stderr.write(`vdsm-client: ${text}\n`);
  process.exit(1);
};

/** Python's json.dumps(indent=4, sort_keys=True), which vdsm-client prints: ASCII only, keys sorted. */
export function formatResult(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sorted(value), null, 4).replace(
    /[\u007f-\uffff]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

/** Python's repr of a dict of strings, as vdsm-client quotes the args in its error line. */
function pyRepr(args: Record<string, unknown>): string {
  const r = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));
  return `{${Object.entries(args)
    .map(([k, v]) => `'${k}': ${r(v)}`)
    .join(', ')}}`;
}

function help(namespace?: string, method?: string): never {
  if (!namespace) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const verbs = VERBS.filter((v) => v.name.startsWith(namespace + '.'));
  if (verbs.length === 0) fail(`unknown namespace "${namespace}"`);
  if (!method) {
    process.stdout.write(
      `${namespace} methods:\n${verbs.map((v) => `  ${v.name.slice(namespace.length + 1)}  ${v.description}`).join('\n')}\n`,
    );
    process.exit(0);
  }
  const verb =
    verbs.find((v) => v.name === `${namespace}.${method}`) ?? fail(`unknown method "${namespace}.${method}"`);
  const params = describeParams(verb);
  process.stdout.write(
    `${verb.name}\n\n${verb.description}\n\nParams:\n${params.length ? params.map((p) => `  ${p}`).join('\n') : '  (none)'}\n\n` +
      `Params template (for -f):\n${formatResult(paramsTemplate(verb))}\n`,
  );
  process.exit(0);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: 'string', short: 'a', default: 'localhost' },
        port: { type: 'string', short: 'p', default: '54321' },
        insecure: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '60' },
        'flow-id': { type: 'string' },
        file: { type: 'string', short: 'f' },
        key: { type: 'string', default: '/etc/pki/vdsm/keys/vdsmkey.pem' },
        cert: { type: 'string', default: '/etc/pki/vdsm/certs/vdsmcert.pem' },
        ca: { type: 'string', default: '/etc/pki/vdsm/certs/cacert.pem' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`);
  }
  const { values: o, positionals } = parsed;
  const [namespace, method, ...rest] = positionals;
  if (o.help || !namespace || !method) help(namespace, method);

  const port = Number(o.port);
  const timeout = Number(o.timeout);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`invalid port "${o.port}"`);
  if (!(timeout > 0)) fail(`invalid timeout "${o.timeout}"`);

  let params: Record<string, unknown> = {};
  if (o.file !== undefined) {
    if (rest.length > 0) fail('name=value arguments cannot be combined with -f');
    try {
      params = JSON.parse(readFileSync(o.file === '-' ? 0 : o.file, 'utf8'));
    } catch (err) {
      fail(`cannot read params from ${o.file === '-' ? 'standard input' : o.file}: ${(err as Error).message}`);
    }
  } else {
    for (const arg of rest) {
      const eq = arg.indexOf('=');
      if (eq <= 0) fail(`argument "${arg}" is not of the form name=value`);
      params[arg.slice(0, eq)] = arg.slice(eq + 1);
    }
  }

  let tlsFiles;
  if (!o.insecure) {
    try {
      tlsFiles = { key: readFileSync(o.key!), cert: readFileSync(o.cert!), ca: readFileSync(o.ca!) };
    } catch (err) {
      fail(`cannot read TLS files (use --insecure for plaintext): ${(err as Error).message}`);
    }
  }
  const name = `${namespace}.${method}`;
  let client: VdsmClient;
  try {
    client = await VdsmClient.connect({ host: o.host!, port, tls: tlsFiles, connectTimeoutMs: timeout * 1000 });
  } catch (err) {
    return fail(
      `Connection to ${o.host}:${port} with use_tls=${!o.insecure}, timeout=${timeout} failed: ${(err as Error).message}`,
    );
  }
  try {
    const result = await client.call(name, params, { flowId: o['flow-id'], timeoutMs: timeout * 1000 });
    process.stdout.write(formatResult(result) + '\n');
  } catch (err) {
    if (err instanceof RemoteError) {
      fail(`Command ${name} with args ${pyRepr(params)} failed:\n(code=${err.code}, message=${err.message})`);
    }
    fail(`Request ${name} with args ${pyRepr(params)}: ${(err as Error).message}`);
  } finally {
    await client.close();
  }
}

void main().then(() => process.exit(0));
