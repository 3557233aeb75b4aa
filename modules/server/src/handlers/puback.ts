import type { AckPacket } from '../codec/packets.ts';
import type { Connection } from '../connection.ts';
import type { Server } from '../server.ts';

export function handlePuback(server: Server, conn: Connection, packet: AckPacket): void {
  // An unknown id (already acknowledged, or never sent) is ignored: nothing to release.
  if (!conn.session!.puback(packet.packetId)) {
    server.platform.log('debug', `${conn.label}: PUBACK for unknown packet id ${packet.packetId}`);
  }
}
