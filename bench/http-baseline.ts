// The baseline of bench/http.ts: the web module's work in a plain Node `http` server, in a
// process of its own as the host is: the same Latest (modules/web/src/latest.ts) fed the same
// posted readings, /latest answered with the same headers and the JSON encoded once per change.
//
//   node bench/http-baseline.ts <port>      prints "listening" once it is
import http from 'node:http';
import { DEVICE_ID, Latest } from '../modules/web/src/latest.ts';

const port = Number(process.argv[2]);
const latest = new Latest('telemetry/', 1000);
let body: { json: string; bytes: Buffer } | undefined;

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/latest' && req.method === 'GET') {
    const json = latest.json();
    if (body?.json !== json) body = { json, bytes: Buffer.from(json) };
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.bytes.length, 'cache-control': 'no-store' });
    res.end(body.bytes);
    return;
  }
  if (path === '/readings' && req.method === 'POST') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const deviceId = (JSON.parse(text) as { deviceId?: unknown }).deviceId;
      if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) {
        res.writeHead(400).end();
        return;
      }
      // What the bus gives the module: the topic, the payload and when it was published.
      latest.update(`telemetry/${deviceId}`, text, Date.now());
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ topic: `telemetry/${deviceId}` }));
    });
    return;
  }
  res.writeHead(404).end();
});
server.listen(port, '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
