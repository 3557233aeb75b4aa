import type { AckPacket } from '../codec/packets.ts';
import type { Connection } from '../connection.ts';
import type { Server } from '../server.ts';

export function handlePubrec(server: Server, conn: Connection, packet: AckPacket): void {
  // The session answers PUBREL and from then on resends only the PUBREL [MQTT-4.3.3-1].
  if (!conn.session!.pubrec(packet.packetId)) {
    server.platform.log('debug', `${conn.label}: PUBREC for unknown packet id ${packet.packetId}`);
  }
}
