// The load of the SIGKILL tests: QoS 1 publishes with a bounded window, and a kill
// once a given number of them was acknowledged. MQTT.js resends what was not
// acknowledged when it reconnects to the restarted host, so the run ends once all are.
import type { MqttClient } from 'mqtt';

export interface KillRun {
  /** Messages to publish, to `load/<i % 10>`. */
  total: number;
  /** Publishes unacknowledged at once. */
  window: number;
  /** Acknowledgements after which `kill` is called (once). */
  killAt: number;
  timeoutMs: number;
  payload: (i: number) => string;
  kill: () => void;
}

/** Resolves with the indexes acknowledged before the kill, in acknowledgement order, once every publish is acknowledged. */
export function publishThroughKill(client: MqttClient, run: KillRun): Promise<{ ackedBeforeKill: number[]; killed: boolean }> {
  let acked = 0;
  let next = 0;
  let killed = false;
  const ackedBeforeKill: number[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${acked} of ${run.total} publishes acknowledged`)), run.timeoutMs);
    const send = () => {
      while (next < run.total && next - acked < run.window) {
        const i = next++;
        client.publish(`load/${i % 10}`, run.payload(i), { qos: 1 }, (err) => {
          if (err) return reject(err);
          acked++;
          if (!killed) ackedBeforeKill.push(i);
          if (!killed && acked >= run.killAt) {
            killed = true;
            run.kill();
          }
          if (acked === run.total) {
            clearTimeout(timer);
            resolve({ ackedBeforeKill, killed });
          } else send();
        });
      }
    };
    send();
  });
}
