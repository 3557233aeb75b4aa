import { REASON } from './codec/reason-codes.ts';

/**
 * A client broke the protocol or a limit: the packet is malformed, arrived in the
 * wrong state, violates a MUST of MQTT, or exceeds what the server accepts. The server
 * closes that connection only (publishing its will) [MQTT-4.8.0-1]; nothing else is
 * affected. A 5.0 client is first told why: DISCONNECT (or CONNACK, before CONNECT
 * was accepted) with `reasonCode` [MQTT-4.13.1-1].
 */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  readonly reasonCode: number;
  /** The config key of the limit that was exceeded, when that is why: such closes are logged as warnings. */
  readonly limit: string | undefined;

  /** `reasonCode` defaults to Malformed Packet (0x81). */
  constructor(message: string, reasonCode: number = REASON.malformedPacket, limit?: string) {
    super(message);
    this.reasonCode = reasonCode;
    this.limit = limit;
  }
}
