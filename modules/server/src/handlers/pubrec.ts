import type { AckPacket } from '../codec/packets.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';

export function handlePubrec(server: Core, conn: Connection, packet: AckPacket): void {
  // The session answers PUBREL and from then on resends only the PUBREL [MQTT-4.3.3-1];
  // a 5.0 PUBREC with a failure code (0x80 or more) ends the exchange instead (4.3.3).
  if (!conn.session!.pubrec(packet.packetId, (packet.reasonCode ?? 0) >= 0x80)) {
    server.platform.log('debug', `${conn.label}: PUBREC for unknown packet id ${packet.packetId}`);
  }
}
