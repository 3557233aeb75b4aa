// Command-line flags. Host-wide flags are fixed; every other flag is a module
// flag, `--<module>-<suffix>`, where the suffix comes from a capability the
// module's world imports (see `flags` in host/capabilities/*/index.ts). Module
// flags are resolved when the config is loaded, since only the config knows
// the modules (host/config/flags.ts).
import { HostError } from '../errors.ts';

export interface CliOptions {
  config: string;
  logLevel?: string;
  /** `--log-format pretty|json`; without it, pretty when stdout is a terminal. */
  logFormat?: string;
  dataDir?: string;
  adminAddress?: string;
  adminTokenFile?: string;
  /** `--bridge <url>`: the broker of the bridge named "default". */
  bridge?: string;
  traceProtocol: boolean;
  help: boolean;
  /** `--<module>-<suffix>` flags with their values, in the order given. */
  moduleFlags: [flag: string, value: string][];
}

interface GlobalFlag {
  name: string;
  value?: string;
  help: string;
}

/** Host-wide flags; `--help` lists them before the module flags. */
export const globalFlags: GlobalFlag[] = [
  { name: 'config', value: '<file>', help: 'Host config (default: config/edgehost.json)' },
  { name: 'log-level', value: '<level>', help: 'trace, debug, info, warn, error, fatal or silent' },
  {
    name: 'log-format',
    value: '<pretty|json>',
    help: 'pretty: coloured lines; json: one JSON object per line (default: pretty when stdout is a terminal, else json)',
  },
  { name: 'data-dir', value: '<dir>', help: 'Where durable state is kept (default: data)' },
  { name: 'admin-address', value: '<ip:port|off>', help: 'Where the admin API listens (default: 127.0.0.1:9090; off disables it)' },
  { name: 'admin-token-file', value: '<file>', help: 'File holding the admin API bearer token (default: generated into <data-dir>/admin-token)' },
  {
    name: 'bridge',
    value: '<url>',
    help: 'Bridge the bus to an MQTT broker (mqtt://, mqtts://, ws://, wss://): bridges.default.url; without that entry, everything goes out at QoS 1 and nothing comes in',
  },
  { name: 'trace-protocol', help: 'Log every message between the main thread and the modules (or EDGEHOST_TRACE_PROTOCOL=1)' },
  { name: 'help', help: 'Show this text' },
];

export function parseCli(argv: string[]): CliOptions {
  const out: CliOptions = { config: 'config/edgehost.json', traceProtocol: false, help: false, moduleFlags: [] };
  const usageError = (what: string) => new HostError('EH_CLI_USAGE', `${what}. Run with --help for the list of options.`);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      out.help = true;
      continue;
    }
    if (arg === '--trace-protocol') {
      out.traceProtocol = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') throw usageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw usageError(`option --${name} needs a value`);
      value = next;
      i++;
    }
    if (name === 'config') out.config = value;
    else if (name === 'log-level') out.logLevel = value;
    else if (name === 'log-format') out.logFormat = value;
    else if (name === 'data-dir') out.dataDir = value;
    else if (name === 'admin-address') out.adminAddress = value;
    else if (name === 'admin-token-file') out.adminTokenFile = value;
    else if (name === 'bridge') {
      if (out.bridge !== undefined)
        throw usageError('--bridge was given more than once; it sets one bridge (bridges.default); list more in the config under "bridges"');
      out.bridge = value;
    } else if (!/^[a-z][a-z0-9-]*$/.test(name)) throw usageError(`unknown option --${name}`);
    else out.moduleFlags.push([`--${name}`, value]);
  }
  return out;
}
