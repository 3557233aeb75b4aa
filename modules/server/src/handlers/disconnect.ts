import type { DisconnectPacket } from '../codec/packets.ts';
import { describeReason, REASON } from '../codec/reason-codes.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';
import { ProtocolError } from '../errors.ts';

export function handleDisconnect(server: Core, conn: Connection, packet: DisconnectPacket): void {
  const code = packet.reasonCode ?? REASON.success;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (expiry !== undefined) {
    // [MQTT-3.14.2-2] a session that was to end with its connection cannot be kept by DISCONNECT.
    if (conn.connectSessionExpiry === 0 && expiry !== 0) {
      throw new ProtocolError('DISCONNECT sets a session expiry interval after CONNECT set none', REASON.protocolError);
    }
    const session = conn.session!;
    session.expirySeconds = Math.min(expiry, server.options.maxSessionExpirySeconds);
    server.sessionChanged(session);
  }
  // A clean end (reason 0): the will is discarded, not published [MQTT-3.14.4-3]. Any other
  // reason, 0x04 (disconnect with will message) included, publishes it (3.1.2.5). The server
  // closes the connection [MQTT-3.14.4-1] and reads nothing more from it.
  if (code === REASON.success) server.closeConnection(conn, 'client disconnected', false);
  else server.closeConnection(conn, `client disconnected with ${describeReason(code)}`, true);
}
