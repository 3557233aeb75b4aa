import { topicLimitProblem, topicNameProblem } from '../../../../packages/mqtt-topic/topic.ts';
import type { PublishPacket } from '../codec/packets.ts';
import { REASON } from '../codec/reason-codes.ts';
import { encodeAck } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';
import { ProtocolError } from '../errors.ts';
import { type MessageMeta, makeMessage, messageProperties } from '../message.ts';

export function handlePublish(server: Core, conn: Connection, packet: PublishPacket): void {
  const v5 = conn.version === 5;
  const t = v5 ? resolveTopicAlias(server, conn, packet) : packet.topic;
  // [MQTT-3.3.2-1] [MQTT-3.3.2-2] [MQTT-4.7.3-1] a topic name: not empty, no wildcards. The
  // parser already refused U+0000 and the length is bounded by the wire, so the usual
  // topic needs only this quick look before the full check.
  if (t.length === 0 || t.indexOf('+') >= 0 || t.indexOf('#') >= 0) {
    throw new ProtocolError(`publish: ${topicNameProblem(t) ?? 'invalid topic'}`, REASON.topicNameInvalid);
  }
  // The server's own bounds, checked in full only for topics long enough to break one.
  const limits = server.topicLimits;
  if (t.length >= limits.maxLevels || t.length * 3 > limits.maxBytes) {
    const problem = topicLimitProblem(t, limits);
    if (problem) throw new ProtocolError(`publish: ${problem}`, REASON.topicNameInvalid, problem.includes('levels') ? 'max-topic-levels' : 'max-topic-length');
  }
  const props = packet.properties;
  if (props !== undefined) {
    // [MQTT-3.3.4-6] a client does not send subscription identifiers.
    if (props.subscriptionIdentifiers !== undefined) throw new ProtocolError('publish from a client with a subscription identifier', REASON.protocolError);
    const rt = props.responseTopic;
    if (rt !== undefined && topicNameProblem(rt)) throw new ProtocolError(`publish: response topic: ${topicNameProblem(rt)}`, REASON.protocolError); // [MQTT-3.3.2-14]
  }
  const session = conn.session!;
  switch (packet.qos) {
    case 0:
      accept(server, conn, packet, t);
      return;
    case 1: {
      const code = accept(server, conn, packet, t);
      conn.write(v5 ? encodeAck('puback', packet.packetId!, code) : encodeAck('puback', packet.packetId!)); // [MQTT-4.3.2-2]
      return;
    }
    case 2: {
      // Exactly once, "method B" of 4.3.3: deliver on PUBLISH and remember the id until
      // PUBREL, so that a resent PUBLISH (DUP) with that id is acknowledged but not delivered again.
      const id = packet.packetId!;
      let code: number = REASON.success;
      if (!session.awaitingRelease.has(id)) {
        // [MQTT-3.3.4-9] no more unreleased QoS 2 messages than the Receive Maximum the server sent.
        if (v5 && session.awaitingRelease.size >= server.options.receiveMaximum) {
          throw new ProtocolError(`more than ${server.options.receiveMaximum} QoS 2 messages awaiting PUBREL`, REASON.receiveMaximumExceeded);
        }
        code = accept(server, conn, packet, t);
        // A refused message (5.0, code 0x80 or more) ends its exchange here: no PUBREL follows (4.3.3).
        if (code < 0x80) session.awaitRelease(id);
      }
      conn.write(v5 ? encodeAck('pubrec', id, code) : encodeAck('pubrec', id)); // [MQTT-4.3.3-2]
      return;
    }
  }
}

/**
 * 5.0 topic aliases (3.3.2.3.4): a PUBLISH with a topic and an alias sets the alias up
 * for this connection; one with an alias and an empty topic uses it.
 */
function resolveTopicAlias(server: Core, conn: Connection, packet: PublishPacket): string {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined) {
    if (packet.topic === '') throw new ProtocolError('publish with neither a topic nor a topic alias', REASON.protocolError);
    return packet.topic;
  }
  const max = server.options.topicAliasMaximum;
  // [MQTT-3.3.2-8] [MQTT-3.3.2-9] an alias is from 1 to the Topic Alias Maximum the server sent.
  if (alias === 0 || alias > max) throw new ProtocolError(`topic alias ${alias} is not within 1 to ${max}`, REASON.topicAliasInvalid);
  if (packet.topic !== '') {
    if (conn.topicAliases === undefined) conn.topicAliases = new Map();
    conn.topicAliases.set(alias, packet.topic);
    return packet.topic;
  }
  const topic = conn.topicAliases?.get(alias);
  if (topic === undefined) throw new ProtocolError(`topic alias ${alias} was not set up on this connection`, REASON.protocolError);
  return topic;
}

/** Publishes the message unless the ACL denies it; the 5.0 reason code for the ack. */
function accept(server: Core, conn: Connection, packet: PublishPacket, topic: string): number {
  if (!server.acl.canPublish(topic)) {
    // 3.1.1 cannot refuse a PUBLISH: it is acknowledged as usual and dropped (as Mosquitto
    // does). 5.0 acks say Not authorized.
    server.platform.log('debug', `${conn.label}: publish to "${topic}" denied by the ACL`);
    return REASON.notAuthorized;
  }
  const meta: MessageMeta = { from: conn.clientId };
  const p = packet.properties;
  if (p !== undefined) {
    const properties = messageProperties(p);
    if (properties) meta.properties = properties;
    // [MQTT-3.3.2-5] counted from when the server received it.
    if (p.messageExpiryInterval !== undefined) meta.expiresAt = server.now + p.messageExpiryInterval * 1000;
  }
  server.publish(makeMessage(topic, packet.payload, meta), packet.qos, packet.retain);
  return REASON.success;
}
