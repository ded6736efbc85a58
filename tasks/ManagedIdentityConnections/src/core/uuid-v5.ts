// Name-based UUIDs (RFC 9562 §5.5, version 5: SHA-1). Written out here because the `uuid` package is not a
// dependency of the bundled task, and ten lines of node:crypto are smaller and easier to audit than a bundle.
// Used for role assignment names: the same (scope, role, principal) must give the same GUID on every run,
// so that a rerun finds its own assignment and ARM answers idempotently instead of creating a duplicate.
import { createHash } from 'node:crypto';

export function uuidV5(name: string, namespace: string): string {
  const namespaceBytes = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (namespaceBytes.length !== 16) throw new Error(`uuidV5: namespace is not a UUID: ${namespace}`);
  const hash = createHash('sha1').update(namespaceBytes).update(Buffer.from(name, 'utf8')).digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50; // version 5
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
