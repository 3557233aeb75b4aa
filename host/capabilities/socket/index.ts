import { z } from 'zod';
import { defineCapability, section } from '../capability.ts';
import { type SocketGrant, socketGrant } from './grant.ts';
import type { SocketOps } from './ops.ts';

export { type SocketGrant, socketGrant } from './grant.ts';
export type { ConnectionInfo, SocketEvent, SocketOps, Transport } from './ops.ts';

export const socket = defineCapability<SocketGrant, SocketOps>({
  name: 'socket',
  interfaces: ['edgehost:platform/socket'],
  handlerExport: 'edgehost:platform/socket-handler',
  grantKey: 'socket',
  grant: socketGrant,
  limits: {
    /** Unsent bytes over all the module's connections together; a send that would pass it closes that connection. */
    maxSocketBufferedBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
  },
  flags: [
    {
      suffix: 'socket-address',
      example: '127.0.0.1:8080',
      value: '<addr>',
      multiple: true,
      help: 'Address <module> listens on (ip:port); repeatable. Replaces modules.<module>.grants.socket.listen and sets modules.<module>.config.listen.',
      apply(module, values) {
        section(section(module, 'grants'), 'socket').listen = values;
        // The module is told where to listen by the same flag that grants it.
        section(module, 'config').listen = values;
        return ['grants.socket.listen', 'config.listen'];
      },
    },
  ],
  worker: new URL('./worker.ts', import.meta.url).href,
  loadService: () => import('./service.ts'),
});
