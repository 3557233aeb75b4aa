// Helpers for behaviour tests of bridges: config entries and waiting for a bridge's log
// lines. What reached a sink per device is checked with readings.ts.
import type { HostProcess, LogLine } from './host-process.ts';

export interface Rule {
  filter: string;
  localPrefix?: string;
  remotePrefix?: string;
  qos?: 0 | 1;
}

/** A bridge entry with a quick reconnect, as tests want it (the defaults are 0.5 s to 30 s). */
export function bridge(url: string, clientId: string, rules: { out?: Rule[]; in?: Rule[] }, extra: Record<string, unknown> = {}) {
  return { url, clientId, reconnect: { initialMs: 100, maxMs: 1000 }, out: rules.out ?? [], in: rules.in ?? [], ...extra };
}

/** Resolves when the bridge has logged that it is connected and, when it has in rules, subscribed. */
export async function bridgeUp(host: HostProcess, name: string, opts: { subscribed?: boolean; after?: number; timeoutMs?: number } = {}): Promise<LogLine> {
  const since = opts.after ?? 0;
  const match = (msg: RegExp) => (l: LogLine) => l.bridge === name && msg.test(l.msg) && host.lines.indexOf(l) >= since;
  const line = await host.waitForLog(match(/^bridge \S+ connected to /), opts.timeoutMs ?? 30_000, `bridge ${name} connected`);
  if (opts.subscribed) await host.waitForLog(match(/^bridge \S+ subscribed to /), opts.timeoutMs ?? 30_000, `bridge ${name} subscribed`);
  return line;
}
