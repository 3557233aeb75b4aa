// What each log format costs the host's main thread (the thread that runs the
// bus, the sockets and the admin API): `node bench/log-format.ts`.
//
// It logs host-like lines (a module binding, a few fields) at a steady rate,
// RATE lines a second in bursts every 5 ms for SECONDS, and measures per format
// the main thread's time inside the logger calls per line, and the event loop's
// delay meanwhile (monitorEventLoopDelay), next to the same loop logging
// nothing. Lines go to /dev/null, so the terminal's own speed is not measured.
//
//   none              the loop alone: the delay the machine itself adds
//   json              pino to a synchronous destination (the host's format when piped)
//   pretty-transport  pino-pretty in pino's transport thread (the host's format on a terminal)
//   pretty-in-thread  pino-pretty as a stream on the main thread (what the host avoids)
import { openSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import pretty from 'pino-pretty';

const RATE = Number(process.env.RATE ?? 5000);
const SECONDS = Number(process.env.SECONDS ?? 3);
const TICK_MS = 5;
const PRETTY = {
  colorize: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname,module',
  singleLine: true,
  messageFormat: '{if module}[{module}] {end}{msg}',
};

function logger(format: string): pino.Logger {
  if (format === 'none') return pino({ level: 'silent' });
  if (format === 'json') return pino({ base: { pid: process.pid } }, pino.destination({ dest: '/dev/null', sync: true }));
  if (format === 'pretty-transport')
    return pino({ base: { pid: process.pid } }, pino.transport({ target: 'pino-pretty', options: { ...PRETTY, destination: '/dev/null' } }));
  return pino({ base: { pid: process.pid } }, pretty({ ...PRETTY, destination: openSync('/dev/null', 'w'), sync: true }));
}

async function measure(format: string) {
  const log = logger(format).child({ module: 'gateway' });
  // Warm up the formatter (and start the transport's thread) before measuring.
  for (let i = 0; i < 500; i++) log.info({ batch: i, delivered: 100, ms: 3 }, 'delivered a batch');
  await new Promise((r) => setTimeout(r, 200));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let inLogger = 0;
  let lines = 0;
  const perTick = Math.round((RATE * TICK_MS) / 1000);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = performance.now();
      for (let i = 0; i < perTick; i++) log.info({ batch: lines++, delivered: 100, ms: 3, url: 'http://127.0.0.1:8081/ingest' }, 'delivered a batch');
      inLogger += performance.now() - t;
    }, TICK_MS);
    setTimeout(() => {
      clearInterval(timer);
      resolve();
    }, SECONDS * 1000);
  });
  delay.disable();
  return {
    format,
    lines,
    usPerLine: format === 'none' ? '-' : ((inLogger * 1000) / lines).toFixed(1),
    mainThreadShare: `${((inLogger / (SECONDS * 1000)) * 100).toFixed(1)}%`,
    loopDelayP99Ms: (delay.percentile(99) / 1e6).toFixed(2),
    loopDelayMaxMs: (delay.max / 1e6).toFixed(2),
  };
}

const results = [];
for (const format of ['none', 'json', 'pretty-transport', 'pretty-in-thread']) results.push(await measure(format));
console.table(results);
// The transport's thread would keep the process alive until it drained.
process.exit(0);
