import type { PingPacket } from '../codec/packets.ts';
import { encodePingresp } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';

export function handlePingreq(_server: Core, conn: Connection, _packet: PingPacket): void {
  conn.write(encodePingresp()); // [MQTT-3.12.4-1]
}
