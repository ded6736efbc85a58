// Starting an emulator inside a test: signs its certificate with the test run's CA (scripts/test.mjs),
// which this mocha process already trusts through NODE_EXTRA_CA_CERTS.
import { readCertificateAuthority } from '../emulator/kernel/certs';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../emulator/emulator';

export function testCertificateAuthority() {
  const directory = process.env.MIC_TEST_CA_DIR;
  if (!directory) throw new Error('MIC_TEST_CA_DIR is not set: run the tests with `npm test` (scripts/test.mjs), which creates the CA.');
  return readCertificateAuthority(directory);
}

export function startTestEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startEmulator({ ca: testCertificateAuthority(), ...options });
}

/** JSON helper for the control API. */
export async function control<T = unknown>(emulator: RunningEmulator, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(new URL(path, emulator.info.controlUrl), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`control ${method} ${path} → ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
