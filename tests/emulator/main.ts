// `npm run emulator`: start the emulator, print exactly one JSON line on stdout, run until SIGINT/SIGTERM.
// Everything else (errors, help) goes to stderr, so `npm run -s emulator | head -1` is always the line.
import { readCertificateAuthority } from './kernel/certs';
import { readSeedFile, startEmulator, type EmulatorOptions } from './emulator';

const USAGE = `Usage: npm run -s emulator -- [options]

  --port N                      HTTPS port for every service (default: a free port)
  --control-port N              control API port (default: a free port)
  --proxy-port N                CONNECT proxy port (default: a free port)
  --seed FILE                   start from this world instead of the default one (docs/emulator.md)
  --fic-propagation-ms N        a new federated credential works for token exchange after N ms (default 0)
  --principal-replication-ms N  a new identity is unknown to role assignments without principalType for N ms (default 0)
  --latency-ms N                add N ms to every request (a fault rule; change it later with POST faults)
  --ca-dir DIR                  sign the server certificate with the CA in DIR (emulator-ca.pem, emulator-ca-key.pem)
  --http1-only                  serve HTTP/1.1 only (by default HTTP/2 too, chosen per connection by ALPN)
  --help                        show this text
`;

function fail(message: string): never {
  process.stderr.write(`emulator: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseArguments(argv: string[]): { options: EmulatorOptions; latencyMs?: number } {
  const options: EmulatorOptions = { settings: {} };
  let latencyMs: number | undefined;
  const number = (flag: string, value: string | undefined): number => {
    const parsed = Number(value);
    if (value === undefined || !Number.isInteger(parsed) || parsed < 0) fail(`${flag} needs a whole number ≥ 0, got ${value ?? 'nothing'}`);
    return parsed;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case '--help':
      case '-h':
        process.stderr.write(USAGE);
        process.exit(0);
      case '--port':
        options.port = number(flag, value);
        i++;
        break;
      case '--control-port':
        options.controlPort = number(flag, value);
        i++;
        break;
      case '--proxy-port':
        options.proxyPort = number(flag, value);
        i++;
        break;
      case '--seed':
        if (!value) fail('--seed needs a file');
        options.seed = readSeedFile(value);
        i++;
        break;
      case '--fic-propagation-ms':
        options.settings!.ficPropagationMs = number(flag, value);
        i++;
        break;
      case '--principal-replication-ms':
        options.settings!.principalReplicationMs = number(flag, value);
        i++;
        break;
      case '--latency-ms':
        latencyMs = number(flag, value);
        i++;
        break;
      case '--ca-dir':
        if (!value) fail('--ca-dir needs a directory');
        options.ca = readCertificateAuthority(value);
        i++;
        break;
      case '--http1-only':
        options.http2 = false;
        break;
      default:
        fail(`unknown option ${flag}`);
    }
  }
  return { options, latencyMs };
}

async function main(): Promise<void> {
  const { options, latencyMs } = parseArguments(process.argv.slice(2));
  const emulator = await startEmulator(options);
  if (latencyMs) emulator.ctx.faults.set([{ id: 'latency', latencyMs }]);
  process.stdout.write(JSON.stringify(emulator.info) + '\n');
  const stop = (): void => {
    void emulator.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`emulator: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
