// A throwaway certificate authority and one server certificate, generated at every start.
//
// One CA file is all a client needs: Node trusts it through NODE_EXTRA_CA_CERTS, Python's requests (the
// Azure CLI) through REQUESTS_CA_BUNDLE. The leaf names the loopback addresses and the real Azure host
// names, because in proxy mode clients connect to `management.azure.com` and must accept our certificate.
// EC P-256 keys: generated in milliseconds by Node's native crypto (through `selfsigned`), and accepted by
// both Node's and OpenSSL's TLS stacks.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** Hosts the proxy terminates TLS for; also the leaf certificate's DNS names. */
export const AZURE_HOSTS = ['login.microsoftonline.com', 'management.azure.com', 'graph.microsoft.com', 'dev.azure.com'] as const;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface EmulatorCertificates {
  caPem: string;
  /** Absolute path of the CA certificate (what NODE_EXTRA_CA_CERTS / REQUESTS_CA_BUNDLE point at). */
  caFile: string;
  keyPem: string;
  certPem: string;
}

const CA_FILE = 'emulator-ca.pem';
const CA_KEY_FILE = 'emulator-ca-key.pem';

function validity(): { notBeforeDate: Date; notAfterDate: Date } {
  return { notBeforeDate: new Date(Date.now() - 60_000), notAfterDate: new Date(Date.now() + 7 * 24 * 3600_000) };
}

export async function createCertificateAuthority(): Promise<CertificateAuthority> {
  const ca = await generate([{ name: 'commonName', value: 'Managed Identity Connections emulator CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...validity(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return { certPem: ca.cert, keyPem: ca.private };
}

/**
 * Writes a CA (certificate and key) into `directory`. The test runner does this once per run, before
 * mocha starts, because Node reads NODE_EXTRA_CA_CERTS only when a process starts: the in-process tests
 * can trust an emulator only if its CA existed before their process did.
 */
export async function writeCertificateAuthority(directory: string): Promise<string> {
  const ca = await createCertificateAuthority();
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, CA_FILE), ca.certPem);
  writeFileSync(join(directory, CA_KEY_FILE), ca.keyPem, { mode: 0o600 });
  return join(directory, CA_FILE);
}

export function readCertificateAuthority(directory: string): CertificateAuthority {
  return { certPem: readFileSync(join(directory, CA_FILE), 'utf8'), keyPem: readFileSync(join(directory, CA_KEY_FILE), 'utf8') };
}

/**
 * A fresh leaf certificate signed by `ca` (a new CA when none is given). The CA certificate is written to
 * a new temporary directory; its key never touches the disk unless the caller wrote the CA itself.
 */
export async function createCertificates(ca?: CertificateAuthority): Promise<EmulatorCertificates> {
  const authority = ca ?? (await createCertificateAuthority());
  const leaf = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...validity(),
    ca: { key: authority.keyPem, cert: authority.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          { type: 2, value: 'localhost' },
          ...AZURE_HOSTS.map((value) => ({ type: 2 as const, value })),
        ],
      },
    ],
  });
  const caFile = join(mkdtempSync(join(tmpdir(), 'mic-emulator-')), CA_FILE);
  writeFileSync(caFile, authority.certPem);
  return { caPem: authority.certPem, caFile, keyPem: leaf.private, certPem: leaf.cert };
}
