import type { UnsubscribePacket } from '../codec/packets.ts';
import { REASON } from '../codec/reason-codes.ts';
import { encodeAck, encodeUnsuback5 } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';

export function handleUnsubscribe(server: Core, conn: Connection, packet: UnsubscribePacket): void {
  // Filters are compared character by character [MQTT-3.10.4-1]; unknown ones are fine.
  // Messages already in flight for a removed filter still complete [MQTT-3.10.4-3].
  const codes = packet.filters.map((filter) => (server.unsubscribe(conn.session!, filter) ? REASON.success : REASON.noSubscriptionExisted));
  // Even if nothing matched [MQTT-3.10.4-4] [MQTT-3.10.4-5]; 5.0 says per filter (3.11.3).
  conn.write(conn.version === 5 ? encodeUnsuback5(packet.packetId, codes) : encodeAck('unsuback', packet.packetId));
}
