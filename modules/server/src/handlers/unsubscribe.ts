import type { UnsubscribePacket } from '../codec/packets.ts';
import { encodeAck } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Server } from '../server.ts';

export function handleUnsubscribe(server: Server, conn: Connection, packet: UnsubscribePacket): void {
  // Filters are compared character by character [MQTT-3.10.4-1]; unknown ones are fine.
  // Messages already in flight for a removed filter still complete [MQTT-3.10.4-3].
  for (const filter of packet.filters) server.unsubscribe(conn.session!, filter);
  conn.write(encodeAck('unsuback', packet.packetId)); // even if nothing matched [MQTT-3.10.4-4] [MQTT-3.10.4-5]
}
