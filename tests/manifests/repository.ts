// Where the manifest and YAML tests find the repository, the reference schemas, and task.json's shape.
// Compiled to build/tests/manifests/, three levels below the repository root.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceRoot } from '../helpers/reference';

export const repoRoot = join(__dirname, '..', '..', '..');
/** Microsoft's task.json and pipeline YAML schemas, copied into tests/reference (tests only). */
export const referenceSchemas = join(referenceRoot, 'schemas');
export const taskName = 'ManagedIdentityConnections';
export const builtTaskFolder = join(repoRoot, 'dist', 'tasks', taskName);

export interface TaskInput {
  name: string;
  type: string;
  label?: string;
  defaultValue?: string;
  required?: boolean;
  helpMarkDown?: string;
  groupName?: string;
  visibleRule?: string;
  aliases?: string[];
  options?: Record<string, string>;
  properties?: Record<string, string>;
}

export interface TaskJson {
  id: string;
  name: string;
  friendlyName: string;
  description: string;
  version: { Major: number; Minor: number; Patch: number };
  minimumAgentVersion?: string;
  instanceNameFormat: string;
  groups?: { name: string; displayName: string }[];
  inputs: TaskInput[];
  execution: Record<string, { target: string; argumentFormat?: string }>;
}

/** Width and height from a PNG's IHDR chunk, which the format puts first. */
export function pngSize(bytes: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(bytes.subarray(0, 8).equals(signature), 'not a PNG file');
  assert.equal(bytes.toString('latin1', 12, 16), 'IHDR', 'PNG without IHDR first');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function readTaskJson(path = join(repoRoot, 'task.json')): TaskJson {
  return readJson<TaskJson>(path);
}
