import type { AckPacket } from '../codec/packets.ts';
import { REASON } from '../codec/reason-codes.ts';
import { encodeAck } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';

export function handlePubrel(_server: Core, conn: Connection, packet: AckPacket): void {
  // The id may be reused for a new message from now on. PUBCOMP goes out even for an
  // unknown id: after a reconnect the client resends PUBREL for ids already released
  // [MQTT-4.3.3-2]; 5.0 says so with 0x92 (3.7.2.1).
  const known = conn.session!.release(packet.packetId);
  const code = known || conn.version !== 5 ? REASON.success : REASON.packetIdentifierNotFound;
  conn.write(encodeAck('pubcomp', packet.packetId, code));
}
