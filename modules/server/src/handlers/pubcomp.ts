import type { AckPacket } from '../codec/packets.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';

export function handlePubcomp(server: Core, conn: Connection, packet: AckPacket): void {
  if (!conn.session!.pubcomp(packet.packetId)) {
    server.platform.log('debug', `${conn.label}: PUBCOMP for unknown packet id ${packet.packetId}`);
  }
}
