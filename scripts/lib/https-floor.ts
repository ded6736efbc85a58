// What this machine's Node can do at all: a bare https client — no SDK, no logic, nothing parsed — making
// `count` requests with `concurrency` in flight over keep-alive connections, against the same emulator with
// the same injected latency. The bench runs it in a child process beside each large scenario, so that its
// wall time and CPU time can be read next to the task's: a task run cannot be faster than this floor, whatever
// the round-trip bound says (docs/performance.md).
//
// As a child: `node https-floor.js <url> <count> <concurrency>` prints {"wallMs","cpuMs","connections"}.
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:https';
import type { Socket } from 'node:net';

export interface HttpsFloor {
  readonly requests: number;
  readonly concurrency: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly connections: number;
}

/** Runs the floor in a fresh process (its own CPU clock, TLS handshakes included) and returns its figures. */
export function measureHttpsFloor(url: string, requests: number, concurrency: number, caFile: string): Promise<HttpsFloor> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, url, String(requests), String(concurrency)], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the https floor exited with ${code}`));
      const figures = JSON.parse(out) as Omit<HttpsFloor, 'requests' | 'concurrency'>;
      resolve({ requests, concurrency, ...figures });
    });
  });
}

function runFloor(url: string, count: number, concurrency: number): void {
  const agent = new Agent({ keepAlive: true });
  const connections = new WeakSet<Socket>();
  let connectionCount = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  let sent = 0;
  let answered = 0;
  const next = (): void => {
    if (sent >= count) return;
    sent += 1;
    const outgoing = request(url, { agent, method: 'GET' }, (response) => {
      response.resume();
      response.on('end', () => {
        answered += 1;
        // On the next turn: by then the agent has put this connection back in its pool for reuse.
        if (answered < count) return void setImmediate(next);
        const used = process.cpuUsage(cpu);
        process.stdout.write(JSON.stringify({ wallMs: Math.round(performance.now() - started), cpuMs: Math.round((used.user + used.system) / 1000), connections: connectionCount }));
        agent.destroy();
      });
    });
    outgoing.on('socket', (socket) => {
      // Fired for a reused connection too: count each one once.
      if (connections.has(socket)) return;
      connections.add(socket);
      connectionCount += 1;
    });
    outgoing.on('error', (error) => {
      process.stderr.write(`https floor: ${error.message}\n`);
      process.exit(1);
    });
    outgoing.end();
  };
  for (let index = 0; index < Math.min(concurrency, count); index++) next();
}

if (require.main === module) {
  const [url, count, concurrency] = process.argv.slice(2);
  runFloor(url!, Number(count), Number(concurrency));
}
