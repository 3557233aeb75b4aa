// Typed MQTT 3.1.1 control packets, as the parser produces them and the serializer takes them.

export type QoS = 0 | 1 | 2;

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

export interface ConnectPacket {
  type: 'connect';
  protocolName: string;
  protocolLevel: number;
  /**
   * False when the protocol name/level is not MQTT 3.1.1: the rest of the packet
   * is then not parsed (its layout may differ) and the fields below are defaults,
   * so the server can still answer CONNACK 0x01 [MQTT-3.1.2-2].
   */
  supported: boolean;
  clean: boolean;
  keepalive: number;
  clientId: string;
  will?: Will;
  username?: string;
  password?: Uint8Array;
}

export interface ConnackPacket {
  type: 'connack';
  sessionPresent: boolean;
  returnCode: number;
}

export interface PublishPacket {
  type: 'publish';
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present exactly when qos > 0. */
  packetId?: number;
}

export interface AckPacket {
  type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback';
  packetId: number;
}

export interface Subscription {
  filter: string;
  qos: QoS;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  subscriptions: Subscription[];
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  /** 0, 1, 2 (granted QoS) or 0x80 (failure). */
  returnCodes: number[];
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  filters: string[];
}

export interface EmptyPacket {
  type: 'pingreq' | 'pingresp' | 'disconnect';
}

export type Packet = ConnectPacket | ConnackPacket | PublishPacket | AckPacket | SubscribePacket | SubackPacket | UnsubscribePacket | EmptyPacket;

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
};

/** CONNACK return codes (3.2.2.3). */
export const CONNACK = {
  accepted: 0x00,
  unacceptableProtocolVersion: 0x01,
  identifierRejected: 0x02,
  serverUnavailable: 0x03,
  badUsernameOrPassword: 0x04,
  notAuthorized: 0x05,
} as const;

/** SUBACK return code for a refused filter (3.9.3). */
export const SUBACK_FAILURE = 0x80;

/** A remaining length above this does not fit in four bytes (2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;
