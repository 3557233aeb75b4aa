/**
 * A client broke the protocol: the packet is malformed, arrived in the wrong state,
 * or violates a MUST of MQTT 3.1.1. The server closes that connection only
 * (publishing its will) [MQTT-4.8.0-1]; nothing else is affected.
 */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}
