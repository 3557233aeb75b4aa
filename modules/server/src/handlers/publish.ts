import { topicNameProblem } from '../../../../packages/mqtt-topic/topic.ts';
import type { PublishPacket } from '../codec/packets.ts';
import { encodeAck } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import { ProtocolError } from '../errors.ts';
import { makeMessage } from '../message.ts';
import type { Server } from '../server.ts';

export function handlePublish(server: Server, conn: Connection, packet: PublishPacket): void {
  // [MQTT-3.3.2-1] [MQTT-3.3.2-2] [MQTT-4.7.3-1] a topic name: not empty, no wildcards. The
  // parser already refused U+0000 and the length is bounded by the wire, so the usual
  // topic needs only this quick look before the full check.
  const t = packet.topic;
  if (t.length === 0 || t.indexOf('+') >= 0 || t.indexOf('#') >= 0) {
    throw new ProtocolError(`publish: ${topicNameProblem(t) ?? 'invalid topic'}`);
  }
  const session = conn.session!;
  switch (packet.qos) {
    case 0:
      accept(server, conn, packet);
      return;
    case 1:
      accept(server, conn, packet);
      conn.write(encodeAck('puback', packet.packetId!)); // [MQTT-4.3.2-2]
      return;
    case 2:
      // Exactly once, "method B" of 4.3.3: deliver on PUBLISH and remember the id until
      // PUBREL, so that a resent PUBLISH (DUP) with that id is acknowledged but not delivered again.
      if (!session.awaitingRelease.has(packet.packetId!)) {
        session.awaitingRelease.add(packet.packetId!);
        accept(server, conn, packet);
      }
      conn.write(encodeAck('pubrec', packet.packetId!)); // [MQTT-4.3.3-2]
      return;
  }
}

function accept(server: Server, conn: Connection, packet: PublishPacket): void {
  if (!server.acl.canPublish(packet.topic)) {
    // MQTT 3.1.1 cannot refuse a PUBLISH: it is acknowledged as usual and dropped (as Mosquitto does).
    server.platform.log('debug', `${conn.label}: publish to "${packet.topic}" denied by the ACL`);
    return;
  }
  server.publish(makeMessage(packet.topic, packet.payload), packet.qos, packet.retain);
}
