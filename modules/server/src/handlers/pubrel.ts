import type { AckPacket } from '../codec/packets.ts';
import { encodeAck } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Server } from '../server.ts';

export function handlePubrel(_server: Server, conn: Connection, packet: AckPacket): void {
  // The id may be reused for a new message from now on. PUBCOMP goes out even for an
  // unknown id: after a reconnect the client resends PUBREL for ids already released [MQTT-4.3.3-2].
  conn.session!.awaitingRelease.delete(packet.packetId);
  conn.write(encodeAck('pubcomp', packet.packetId));
}
