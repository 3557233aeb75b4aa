import { isSharedFilter, parseSharedFilter, topicFilterProblem, topicLimitProblem } from '../../../../packages/mqtt-topic/topic.ts';
import type { SubscribePacket, Subscription } from '../codec/packets.ts';
import { REASON, V311_SUBACK_FAILURE } from '../codec/reason-codes.ts';
import { encodeSuback } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';
import { ProtocolError } from '../errors.ts';
import type { Session, SubscriptionOptions } from '../session.ts';

export function handleSubscribe(server: Core, conn: Connection, packet: SubscribePacket): void {
  const session = conn.session!;
  const v5 = conn.version === 5;
  const id = packet.properties?.subscriptionIdentifiers?.[0];
  const codes: number[] = [];
  const retained: [string, SubscriptionOptions][] = [];
  for (const s of packet.subscriptions) {
    const code = subscribeOne(server, conn, session, s, id, retained);
    // 3.1.1 has one failure code for every refusal (3.9.3).
    codes.push(!v5 && code >= 0x80 ? V311_SUBACK_FAILURE : code);
  }
  // One return code per filter, in order [MQTT-3.8.4-4] [MQTT-3.8.4-5] (5.0: [MQTT-3.8.4-6]); same packet id [MQTT-3.8.4-2].
  conn.write(encodeSuback(packet.packetId, codes, v5 ? {} : undefined));
  // Retained messages follow the SUBACK [MQTT-3.8.4-3], for new and replaced subscriptions
  // alike unless retain handling says otherwise (3.8.3.1), sent within the work budget per call.
  for (const [filter, options] of retained) server.sendRetained(session, filter, options);
}

/** Subscribes to one filter; returns its SUBACK code (granted QoS, or a 5.0 failure code). */
function subscribeOne(
  server: Core,
  conn: Connection,
  session: Session,
  s: Subscription,
  id: number | undefined,
  retained: [string, SubscriptionOptions][],
): number {
  const { filter } = s;
  const shared = isSharedFilter(filter);
  let inner = filter;
  let problem: string | undefined;
  if (shared) {
    // $share/{group}/{filter} (4.8.2), for 3.1.1 clients too (as Mosquitto does).
    const parsed = parseSharedFilter(filter);
    if (typeof parsed === 'string') problem = parsed;
    else inner = parsed.filter;
    // [MQTT-3.8.3-4] no-local on a shared subscription is a protocol error.
    if (s.noLocal) throw new ProtocolError(`subscribe: no local on shared subscription "${filter}"`, REASON.protocolError);
  } else problem = topicFilterProblem(filter);
  if (problem) {
    server.platform.log('debug', `${conn.label}: subscription to "${filter}" refused: ${problem}`);
    return REASON.topicFilterInvalid;
  }
  const limit = topicLimitProblem(inner, server.topicLimits, 'filter');
  if (limit) {
    server.limitHit(
      limit.includes('levels') ? 'max-topic-levels' : 'max-topic-length',
      `${conn.label}: subscription to "${filter.slice(0, 100)}" refused: ${limit}`,
    );
    return REASON.topicFilterInvalid;
  }
  if (!server.acl.canSubscribe(inner)) {
    server.platform.log('debug', `${conn.label}: subscription to "${filter}" refused: denied by the ACL`);
    return REASON.notAuthorized;
  }
  const options: SubscriptionOptions = {
    qos: s.qos,
    noLocal: s.noLocal ?? false,
    retainAsPublished: s.retainAsPublished ?? false,
    retainHandling: s.retainHandling ?? 0,
  };
  if (id !== undefined) options.id = id;
  const outcome = server.subscribe(session, filter, options);
  if (outcome === 'quota') {
    server.limitHit(
      'max-subscriptions-per-client',
      `${conn.label}: subscription to "${filter}" refused: it has ${server.options.maxSubscriptionsPerClient} subscriptions`,
    );
    return REASON.quotaExceeded;
  }
  // Retained messages are not sent for shared subscriptions (4.8.2); retain handling 1 sends
  // them only for a new subscription, 2 never (5.0: [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11]).
  if (!shared && (options.retainHandling === 0 || (options.retainHandling === 1 && outcome === 'new'))) retained.push([filter, options]);
  // The server supports QoS 2, so it grants what was asked [MQTT-3.8.4-6] (5.0: [MQTT-3.8.4-8]).
  return s.qos;
}
