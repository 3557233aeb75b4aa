// A real Mosquitto (Debian's) as a child process on a loopback port, for tests and benches:
// started from a generated config in a temp dir, optionally with persistence, a password
// file or a TLS listener, and stopped and started again on the same port and data.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { delimiter, join } from 'node:path';
import { root, tempDir } from './paths.ts';
import { freePort } from './ports.ts';

export interface MosquittoOptions {
  /** Default: a free port. */
  port?: number;
  /** Keep messages and sessions across a stop and start (`persistence true` in its own dir). Default true. */
  persistence?: boolean;
  /** Users and passwords; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** Serve MQTT over TLS with this certificate and key (PEM files) instead of plain TCP. */
  tls?: { cert: string; key: string };
  maxInflight?: number;
  maxQueued?: number;
  /** Also serve MQTT over WebSocket (any path, subprotocol `mqtt`) on a second port of its own, `wsPort`. */
  websockets?: boolean;
}

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const STARTUP_TIMEOUT_MS = 20_000;

/** The mosquitto binary: on PATH, or in an sbin directory (Debian's PATH for other users than root has none). */
export function mosquittoPath(): string {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...SBIN]) {
    if (!dir) continue;
    const file = join(dir, 'mosquitto');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  throw new Error('mosquitto not found on PATH or in /usr/sbin; install the Debian package "mosquitto" (npm test does it)');
}

export function mosquittoVersion(): string {
  const r = spawnSync(mosquittoPath(), ['-h'], { encoding: 'utf8' });
  return /mosquitto version (\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
}

export class Mosquitto {
  readonly port: number;
  /** The WebSocket listener's port (0 without `websockets`). */
  readonly wsPort: number;
  readonly dir: string;
  readonly config: string;
  readonly tls: boolean;
  /** What it wrote to stderr, over every start. */
  output = '';
  #child: ChildProcess | undefined;

  private constructor(port: number, wsPort: number, dir: string, config: string, tls: boolean) {
    this.port = port;
    this.wsPort = wsPort;
    this.dir = dir;
    this.config = config;
    this.tls = tls;
  }

  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = tempDir('edgehost-mosquitto-');
    const port = opts.port ?? (await freePort());
    const wsPort = opts.websockets ? await freePort() : 0;
    const lines = [
      // Run as root (a container, CI), mosquitto drops to the user "mosquitto", which cannot write the temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} 127.0.0.1`,
      ...(opts.tls ? [`certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`] : []),
      `persistence ${opts.persistence === false ? 'false' : 'true'}`,
      `persistence_location ${dir}/`,
      `max_inflight_messages ${opts.maxInflight ?? 20}`,
      `max_queued_messages ${opts.maxQueued ?? 100_000}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      // Certificate lines above belong to the first listener: this one is plain WebSocket.
      ...(opts.websockets ? [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] : []),
    ];
    if (opts.users) {
      const file = join(dir, 'passwords');
      writeFileSync(file, '');
      for (const [user, password] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', file, user, password]);
      lines.push('allow_anonymous false', `password_file ${file}`);
    } else {
      lines.push('allow_anonymous true');
    }
    const config = join(dir, 'mosquitto.conf');
    writeFileSync(config, `${lines.join('\n')}\n`);
    const broker = new Mosquitto(port, wsPort, dir, config, opts.tls !== undefined);
    await broker.start();
    return broker;
  }

  get url(): string {
    return `${this.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  /** Its process id while it runs (for its memory in /proc/<pid>/status). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts it (again) with the same config, port and persistence; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.#child) return;
    const child = spawn(mosquittoPath(), ['-c', this.config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.output += c));
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    await acceptsConnections(child, this.port, () => this.output);
  }

  /** SIGKILL, synchronously: for a process 'exit' handler. */
  kill(): void {
    this.#child?.kill('SIGKILL');
  }

  /** SIGTERM (it saves its persistence file on the way out), resolved once it exited. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Mosquitto's log line saying it runs is not flushed to a pipe until it exits, so
 * readiness is probed: resolves once its port accepts a TCP connection.
 */
async function acceptsConnections(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mosquitto exited at start\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connectTcp(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not accept connections on ${port} within ${STARTUP_TIMEOUT_MS} ms\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A test CA (ca.pem) and a broker certificate it signed for the name "broker.example" only
 * (broker.pem, broker.key), valid until 2126: for a TLS listener whose name a client can
 * check, or fail to. Made once with openssl (no openssl needed to run the tests):
 *   openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj '/CN=edgehost test CA' -keyout ca.key -out ca.pem
 *   openssl req -newkey rsa:2048 -nodes -subj /CN=broker.example -keyout broker.key -out broker.csr
 *   openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -days 36500 -extfile <(echo subjectAltName=DNS:broker.example) -out broker.pem
 * The CA's key was not kept.
 */
export const testTls = {
  ca: join(root, 'test/fixtures/tls/ca.pem'),
  cert: join(root, 'test/fixtures/tls/broker.pem'),
  key: join(root, 'test/fixtures/tls/broker.key'),
  name: 'broker.example',
};
