import { hostError, ok, type WorkerHalf } from '../capability.ts';
import { parseListenAddress } from './address.ts';
import type { SocketGrant } from './grant.ts';
import type { SocketEvent, SocketOps } from './ops.ts';

const HANDLER = 'edgehost:platform/socket-handler';
// RFC 6455 4.1: a subprotocol is an RFC 7230 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const create: WorkerHalf<SocketGrant, SocketOps>['create'] = (ctx, grant) => {
  const granted = new Set(grant.listen.map((a) => parseListenAddress(a).text));
  const listening = new Set<string>();
  /** Connections the guest has been told about and has not closed: sends to others are refused here. */
  const open = new Set<number>();
  // Bytes sent but not yet handed to a connection by the main thread, per
  // connection and in all: a guest cannot pile up more than its module's budget
  // in messages between the threads, whatever one call sends.
  const unsent = new Map<number, number>();
  let unsentTotal = 0;
  const hint = (address: string) => `--${ctx.moduleName}-socket-address ${address} (or modules.${ctx.moduleName}.grants.socket.listen)`;

  ctx.handle({
    written: (acks) => {
      for (const [id, bytes] of acks) {
        const left = (unsent.get(id) ?? 0) - bytes;
        if (left > 0) unsent.set(id, left);
        else unsent.delete(id);
        unsentTotal -= bytes;
      }
    },
    events: (events: SocketEvent[]) => {
      for (const e of events) {
        if (e.tag === 'opened') open.add(e.val.id);
        else if (e.tag === 'closed') open.delete(e.val);
      }
      return ctx.callGuest(HANDLER, 'handleEvents', [events]).then(() => undefined);
    },
  });

  return {
    'edgehost:platform/socket': {
      listen(address: string, websocketSubprotocol?: string) {
        let parsed: ReturnType<typeof parseListenAddress>;
        try {
          parsed = parseListenAddress(address);
        } catch (e) {
          return hostError.invalid((e as Error).message);
        }
        if (!granted.has(parsed.text)) return hostError.denied(ctx.denied(`listen ${parsed.text}`, hint(parsed.text)));
        if (websocketSubprotocol != null && !TOKEN.test(websocketSubprotocol)) {
          return hostError.invalid(`"${websocketSubprotocol}" is not a WebSocket subprotocol name`);
        }
        if (listening.has(parsed.text)) return hostError.failed(`already listening on ${parsed.text}`);
        listening.add(parsed.text);
        // Binding finishes after this call returns: a failure during init fails the module's start.
        const bound = ctx.service.request('listen', { address, subprotocol: websocketSubprotocol ?? undefined });
        bound.catch(() => listening.delete(parsed.text));
        ctx.whenStarted(bound);
        return ok(undefined);
      },

      send(id: number, data: Uint8Array) {
        if (!open.has(id)) return hostError.invalid(`connection ${id} is not open`);
        // Refused before the bytes are copied anywhere: one send may not exceed what a connection may hold unsent.
        if (data.length > grant.maxBufferedBytes) {
          return hostError.limited(
            `a send of ${data.length} bytes exceeds the ${grant.maxBufferedBytes} a connection may hold unsent (grants.socket.maxBufferedBytes)`,
          );
        }
        const pending = unsent.get(id) ?? 0;
        // Only the module's total is held to its budget here. What one connection has on its
        // way to the main thread measures how busy the main thread is, not whether the peer
        // reads: a peer that reads is judged by its socket's backlog, on the main thread.
        if (unsentTotal + data.length > ctx.limits.maxSocketBufferedBytes) {
          // The peer (or all of them) is not keeping up: the connection goes, as one that does not read.
          open.delete(id);
          ctx.service.notify('cut', id);
          return hostError.limited(
            `connection ${id} has ${pending} bytes not yet sent (grants.socket.maxBufferedBytes ${grant.maxBufferedBytes}) and the module ${unsentTotal} (limits.maxSocketBufferedBytes ${ctx.limits.maxSocketBufferedBytes}); the connection is closed`,
          );
        }
        unsent.set(id, pending + data.length);
        unsentTotal += data.length;
        ctx.service.notify('send', { id, data });
        return ok(undefined);
      },

      close(id: number) {
        if (!open.delete(id)) return;
        ctx.service.notify('close', id);
      },
    },
  };
};
