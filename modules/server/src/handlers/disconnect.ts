import type { EmptyPacket } from '../codec/packets.ts';
import type { Connection } from '../connection.ts';
import type { Server } from '../server.ts';

export function handleDisconnect(server: Server, conn: Connection, _packet: EmptyPacket): void {
  // A clean end: the will is discarded, not published [MQTT-3.14.4-3]; the server closes
  // the connection [MQTT-3.14.4-1] and reads nothing more from it.
  server.closeConnection(conn, 'client disconnected', false);
}
