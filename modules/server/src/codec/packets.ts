// Typed MQTT 3.1.1 and 5.0 control packets, as the parser produces them and the
// serializer takes them. Fields that exist only in 5.0 (properties, reason codes,
// subscription options) are absent from 3.1.1 packets.

import type { Properties } from './properties.ts';

export type QoS = 0 | 1 | 2;

/** The protocol level byte of CONNECT: 4 is MQTT 3.1.1, 5 is MQTT 5.0. */
export type ProtocolVersion = 4 | 5;

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** 5.0 will properties (delay, expiry, content type, response topic, ...). */
  properties?: Properties;
}

export interface ConnectPacket {
  type: 'connect';
  protocolName: string;
  protocolLevel: number;
  /**
   * False when the protocol name/level is neither MQTT 3.1.1 nor 5.0: the rest of the
   * packet is then not parsed (its layout may differ) and the fields below are
   * defaults, so the server can still answer CONNACK 0x01 [MQTT-3.1.2-2].
   */
  supported: boolean;
  /** Clean Session (3.1.1) or Clean Start (5.0). */
  clean: boolean;
  keepalive: number;
  clientId: string;
  will?: Will;
  username?: string;
  password?: Uint8Array;
  properties?: Properties;
}

export interface ConnackPacket {
  type: 'connack';
  sessionPresent: boolean;
  /** 3.1.1 return code, or 5.0 reason code. */
  returnCode: number;
  properties?: Properties;
}

export interface PublishPacket {
  type: 'publish';
  /** Empty in 5.0 when a topic alias stands for it. */
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present exactly when qos > 0. */
  packetId?: number;
  properties?: Properties;
}

export interface AckPacket {
  type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';
  packetId: number;
  /** 5.0 only; 0 (success) when the packet omits it. */
  reasonCode?: number;
  properties?: Properties;
}

/** 5.0 subscription options (3.8.3.1); 3.1.1 has only the QoS. */
export interface Subscription {
  filter: string;
  qos: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  /** 0: send retained messages at subscribe; 1: only if the subscription is new; 2: never. */
  retainHandling?: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  subscriptions: Subscription[];
  properties?: Properties;
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  /** Granted QoS (0, 1, 2) or a failure code (0x80 in 3.1.1; 5.0 reason codes). */
  returnCodes: number[];
  properties?: Properties;
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  filters: string[];
  properties?: Properties;
}

export interface UnsubackPacket {
  type: 'unsuback';
  packetId: number;
  /** 5.0 only: one per filter. */
  reasonCodes?: number[];
  properties?: Properties;
}

export interface PingPacket {
  type: 'pingreq' | 'pingresp';
}

export interface DisconnectPacket {
  type: 'disconnect';
  /** 5.0 only; 0 (normal disconnection) when the packet omits it. */
  reasonCode?: number;
  properties?: Properties;
}

/** 5.0 only: enhanced authentication, which this server does not offer. */
export interface AuthPacket {
  type: 'auth';
  reasonCode: number;
  properties?: Properties;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingPacket
  | DisconnectPacket
  | AuthPacket;

export type PacketType = Packet['type'];

/** Control packet type numbers (fixed header bits 7-4). */
export const PACKET_TYPES: Readonly<Record<PacketType, number>> = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
};

/** A remaining length above this does not fit in four bytes (2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;
