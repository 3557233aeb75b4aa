// Every reason code the server sends or reads (MQTT 5.0 section 2.4), in one table,
// with the MQTT 3.1.1 CONNACK return code that says the same to a 3.1.1 client.

interface ReasonCode {
  readonly code: number;
  /** The 3.1.1 CONNACK return code (3.2.2.3) for a refused CONNECT, where there is one. */
  readonly v311Connack?: number;
}

const table = {
  success: { code: 0x00 }, // also Normal disconnection and Granted QoS 0
  grantedQoS1: { code: 0x01 },
  grantedQoS2: { code: 0x02 },
  disconnectWithWill: { code: 0x04 },
  noMatchingSubscribers: { code: 0x10 },
  noSubscriptionExisted: { code: 0x11 },
  unspecifiedError: { code: 0x80, v311Connack: 0x03 },
  malformedPacket: { code: 0x81 },
  protocolError: { code: 0x82 },
  implementationSpecificError: { code: 0x83, v311Connack: 0x03 },
  unsupportedProtocolVersion: { code: 0x84, v311Connack: 0x01 },
  clientIdentifierNotValid: { code: 0x85, v311Connack: 0x02 },
  badUserNameOrPassword: { code: 0x86, v311Connack: 0x04 },
  notAuthorized: { code: 0x87, v311Connack: 0x05 },
  serverUnavailable: { code: 0x88, v311Connack: 0x03 },
  serverBusy: { code: 0x89, v311Connack: 0x03 },
  banned: { code: 0x8a, v311Connack: 0x05 },
  serverShuttingDown: { code: 0x8b },
  badAuthenticationMethod: { code: 0x8c, v311Connack: 0x05 },
  keepAliveTimeout: { code: 0x8d },
  sessionTakenOver: { code: 0x8e },
  topicFilterInvalid: { code: 0x8f },
  topicNameInvalid: { code: 0x90, v311Connack: 0x03 },
  packetIdentifierInUse: { code: 0x91 },
  packetIdentifierNotFound: { code: 0x92 },
  receiveMaximumExceeded: { code: 0x93 },
  topicAliasInvalid: { code: 0x94 },
  packetTooLarge: { code: 0x95, v311Connack: 0x03 },
  messageRateTooHigh: { code: 0x96 },
  quotaExceeded: { code: 0x97, v311Connack: 0x03 },
  administrativeAction: { code: 0x98 },
  payloadFormatInvalid: { code: 0x99 },
  retainNotSupported: { code: 0x9a },
  qosNotSupported: { code: 0x9b },
  useAnotherServer: { code: 0x9c, v311Connack: 0x03 },
  serverMoved: { code: 0x9d, v311Connack: 0x03 },
  sharedSubscriptionsNotSupported: { code: 0x9e },
  connectionRateExceeded: { code: 0x9f, v311Connack: 0x03 },
  maximumConnectTime: { code: 0xa0 },
  subscriptionIdentifiersNotSupported: { code: 0xa1 },
  wildcardSubscriptionsNotSupported: { code: 0xa2 },
} as const satisfies Record<string, ReasonCode>;

export type ReasonName = keyof typeof table;

/** Reason codes by name: `REASON.quotaExceeded` is 0x97. */
export const REASON = Object.fromEntries(Object.entries(table).map(([name, r]) => [name, r.code])) as { readonly [N in ReasonName]: (typeof table)[N]['code'] };

const byCode = new Map<number, ReasonName>();
for (const [name, r] of Object.entries(table)) if (!byCode.has(r.code)) byCode.set(r.code, name as ReasonName);

/** The name of a reason code, for logs: "quotaExceeded (0x97)". */
export function describeReason(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  const name = byCode.get(code);
  return name ? `${name} (${hex})` : hex;
}

/** The MQTT 3.1.1 CONNACK return code for a 5.0 refusal: 0x03 (server unavailable) when 3.1.1 has no closer one. */
export function v311ConnackCode(code: number): number {
  if (code === 0) return 0;
  const name = byCode.get(code);
  const r: ReasonCode | undefined = name ? table[name] : undefined;
  return r?.v311Connack ?? 0x03;
}

/** MQTT 3.1.1 SUBACK return code for a refused filter (3.9.3). */
export const V311_SUBACK_FAILURE = 0x80;
