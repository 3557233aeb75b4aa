import type { AckPacket } from '../codec/packets.ts';
import type { Connection } from '../connection.ts';
import type { Server } from '../server.ts';

export function handlePubcomp(server: Server, conn: Connection, packet: AckPacket): void {
  if (!conn.session!.pubcomp(packet.packetId)) {
    server.platform.log('debug', `${conn.label}: PUBCOMP for unknown packet id ${packet.packetId}`);
  }
}
