import { topicFilterProblem } from '../../../../packages/mqtt-topic/topic.ts';
import { type QoS, SUBACK_FAILURE, type SubscribePacket } from '../codec/packets.ts';
import { encodeSuback } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Server } from '../server.ts';

export function handleSubscribe(server: Server, conn: Connection, packet: SubscribePacket): void {
  const session = conn.session!;
  const returnCodes: number[] = [];
  const granted: { filter: string; qos: QoS }[] = [];
  for (const { filter, qos } of packet.subscriptions) {
    const problem = topicFilterProblem(filter);
    if (problem || !server.acl.canSubscribe(filter)) {
      server.platform.log('debug', `${conn.label}: subscription to "${filter}" refused: ${problem ?? 'denied by the ACL'}`);
      returnCodes.push(SUBACK_FAILURE);
      continue;
    }
    // The server supports QoS 2, so it grants what was asked [MQTT-3.8.4-6].
    server.subscribe(session, filter, qos);
    returnCodes.push(qos);
    granted.push({ filter, qos });
  }
  // One return code per filter, in order [MQTT-3.8.4-4] [MQTT-3.8.4-5]; same packet id [MQTT-3.8.4-2].
  conn.write(encodeSuback(packet.packetId, returnCodes));
  // Retained messages follow the SUBACK, for new and replaced subscriptions alike [MQTT-3.8.4-3].
  for (const g of granted) server.sendRetained(session, g.filter, g.qos);
}
