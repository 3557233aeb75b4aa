import { z } from 'zod';
import { parseAllowedHost } from './allowed-hosts.ts';

/**
 * One `allowedHosts` entry, in the grant of any capability that sends HTTP
 * requests: refused at config load with the parser's reason. (Apart from
 * allowed-hosts.ts so that worker halves, which check targets too, do not
 * bundle zod.)
 */
export const allowedHostEntry = z.string().superRefine((s, ctx) => {
  try {
    parseAllowedHost(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});
