import type { EmptyPacket } from '../codec/packets.ts';
import { encodePingresp } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Server } from '../server.ts';

export function handlePingreq(_server: Server, conn: Connection, _packet: EmptyPacket): void {
  conn.write(encodePingresp()); // [MQTT-3.12.4-1]
}
