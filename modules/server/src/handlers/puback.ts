import type { AckPacket } from '../codec/packets.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';

export function handlePuback(server: Core, conn: Connection, packet: AckPacket): void {
  // Any 5.0 reason code completes the delivery (4.3.2). An unknown id (already
  // acknowledged, or never sent) is ignored: nothing to release.
  if (!conn.session!.puback(packet.packetId)) {
    server.platform.log('debug', `${conn.label}: PUBACK for unknown packet id ${packet.packetId}`);
  }
}
