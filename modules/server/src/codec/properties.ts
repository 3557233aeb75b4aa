// MQTT 5.0 properties (section 2.2.2.2): one table of every property id with its
// wire type, the packets that may carry it and what makes its value invalid. The
// parser and the serializer both work from it.

/** Where a property list appears: a packet type, or the will properties inside CONNECT. */
export type PropertyPlace =
  | 'connect'
  | 'connack'
  | 'publish'
  | 'will'
  | 'puback'
  | 'pubrec'
  | 'pubrel'
  | 'pubcomp'
  | 'subscribe'
  | 'suback'
  | 'unsubscribe'
  | 'unsuback'
  | 'disconnect'
  | 'auth';

export type PropertyType = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

/** A property list, by name. Absent means not in the packet. */
export interface Properties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  /** PUBLISH may carry several (one per matching subscription), SUBSCRIBE one. */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Uint8Array;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  /** In the order they were sent, duplicates kept [MQTT-3.3.2-18]. */
  userProperties?: [string, string][];
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifierAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

export type PropertyName = keyof Properties;

export interface PropertyDef {
  readonly id: number;
  readonly name: PropertyName;
  readonly type: PropertyType;
  readonly places: readonly PropertyPlace[];
  /** Where it may appear more than once (user properties; subscription identifiers in PUBLISH). */
  readonly repeatable?: readonly PropertyPlace[];
  /** Why a numeric value is not allowed (a Protocol Error), or undefined. */
  readonly invalid?: (v: number) => string | undefined;
}

const zeroOrOne = (v: number) => (v === 0 || v === 1 ? undefined : `must be 0 or 1, not ${v}`);
const notZero = (v: number) => (v === 0 ? 'must not be 0' : undefined);

const ACKS: readonly PropertyPlace[] = ['puback', 'pubrec', 'pubrel', 'pubcomp'];
const ALL: readonly PropertyPlace[] = [
  'connect',
  'connack',
  'publish',
  'will',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'disconnect',
  'auth',
];

/** Table 2-4 of MQTT 5.0, in id order (the serializer writes properties in this order). */
export const PROPERTY_DEFS: readonly PropertyDef[] = [
  { id: 0x01, name: 'payloadFormatIndicator', type: 'byte', places: ['publish', 'will'], invalid: zeroOrOne },
  { id: 0x02, name: 'messageExpiryInterval', type: 'u32', places: ['publish', 'will'] },
  { id: 0x03, name: 'contentType', type: 'string', places: ['publish', 'will'] },
  { id: 0x08, name: 'responseTopic', type: 'string', places: ['publish', 'will'] },
  { id: 0x09, name: 'correlationData', type: 'binary', places: ['publish', 'will'] },
  // Once in SUBSCRIBE (3.8.2.1.2); a PUBLISH carries one per matching subscription (3.3.2.3.8).
  { id: 0x0b, name: 'subscriptionIdentifiers', type: 'varint', places: ['publish', 'subscribe'], repeatable: ['publish'], invalid: notZero },
  { id: 0x11, name: 'sessionExpiryInterval', type: 'u32', places: ['connect', 'connack', 'disconnect'] },
  { id: 0x12, name: 'assignedClientIdentifier', type: 'string', places: ['connack'] },
  { id: 0x13, name: 'serverKeepAlive', type: 'u16', places: ['connack'] },
  { id: 0x15, name: 'authenticationMethod', type: 'string', places: ['connect', 'connack', 'auth'] },
  { id: 0x16, name: 'authenticationData', type: 'binary', places: ['connect', 'connack', 'auth'] },
  { id: 0x17, name: 'requestProblemInformation', type: 'byte', places: ['connect'], invalid: zeroOrOne },
  { id: 0x18, name: 'willDelayInterval', type: 'u32', places: ['will'] },
  { id: 0x19, name: 'requestResponseInformation', type: 'byte', places: ['connect'], invalid: zeroOrOne },
  { id: 0x1a, name: 'responseInformation', type: 'string', places: ['connack'] },
  { id: 0x1c, name: 'serverReference', type: 'string', places: ['connack', 'disconnect'] },
  { id: 0x1f, name: 'reasonString', type: 'string', places: ['connack', ...ACKS, 'suback', 'unsuback', 'disconnect', 'auth'] },
  { id: 0x21, name: 'receiveMaximum', type: 'u16', places: ['connect', 'connack'], invalid: notZero },
  { id: 0x22, name: 'topicAliasMaximum', type: 'u16', places: ['connect', 'connack'] },
  { id: 0x23, name: 'topicAlias', type: 'u16', places: ['publish'] },
  { id: 0x24, name: 'maximumQoS', type: 'byte', places: ['connack'], invalid: zeroOrOne },
  { id: 0x25, name: 'retainAvailable', type: 'byte', places: ['connack'], invalid: zeroOrOne },
  { id: 0x26, name: 'userProperties', type: 'pair', places: ALL, repeatable: ALL },
  { id: 0x27, name: 'maximumPacketSize', type: 'u32', places: ['connect', 'connack'], invalid: notZero },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', type: 'byte', places: ['connack'], invalid: zeroOrOne },
  { id: 0x29, name: 'subscriptionIdentifierAvailable', type: 'byte', places: ['connack'], invalid: zeroOrOne },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', type: 'byte', places: ['connack'], invalid: zeroOrOne },
];

/** Property definitions by id; undefined for ids MQTT 5.0 does not define. */
export const PROPERTY_BY_ID: readonly (PropertyDef | undefined)[] = (() => {
  const out: (PropertyDef | undefined)[] = new Array(0x2b).fill(undefined);
  for (const def of PROPERTY_DEFS) out[def.id] = def;
  return out;
})();

/** The largest Variable Byte Integer (1.5.5): also the largest Subscription Identifier. */
export const MAX_VARINT = 268_435_455;

/** Bytes a Variable Byte Integer of value `n` takes. */
export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}
