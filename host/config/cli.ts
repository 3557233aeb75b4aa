import { parseArgs } from 'node:util';
import { HostError } from '../errors.ts';

export interface CliOptions {
  config: string;
  gatewayAllowedHosts?: string[];
  gatewayUrl?: string;
  serverSocketAddresses?: string[];
  logLevel?: string;
  dataDir?: string;
  help: boolean;
}

export const usage = `Usage: npm start -- [options]

Runs the modules listed in the host config, each in its own sandbox.

Options:
  --config <file>                 Host config (default: config/edgehost.json)
  --gateway-allowed-host <host>   Host the gateway module may send HTTP requests to; repeatable.
                                  Forms: host, host:port, scheme://host[:port], *.domain.
                                  Replaces modules.gateway.grants.outboundHttp.allowedHosts.
  --gateway-url <url>             Where the gateway posts telemetry (modules.gateway.config.url)
  --server-socket-address <addr>  Address the server module listens on (ip:port); repeatable.
                                  Replaces modules.server.grants.socket.listen.
  --log-level <level>             trace, debug, info, warn, error, fatal or silent
  --data-dir <dir>                Where durable state is kept (default: data)
  --help                          Show this text

Examples:
  npm start -- --gateway-allowed-host 127.0.0.1:8081 --server-socket-address 127.0.0.1:8080
`;

export function parseCli(argv: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        'gateway-allowed-host': { type: 'string', multiple: true },
        'gateway-url': { type: 'string' },
        'server-socket-address': { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new HostError('EH_CLI_USAGE', `${(e as Error).message}. Run with --help for the list of options.`);
  }
  return {
    config: values.config ?? 'config/edgehost.json',
    gatewayAllowedHosts: values['gateway-allowed-host'],
    gatewayUrl: values['gateway-url'],
    serverSocketAddresses: values['server-socket-address'],
    logLevel: values['log-level'],
    dataDir: values['data-dir'],
    help: values.help ?? false,
  };
}
