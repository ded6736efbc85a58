// Where the manifest and YAML tests find the repository, the shared reference schemas, and task.json's shape.
// Compiled to build/tests/manifests/, three levels below the repository root.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..', '..');
/** Vendored schemas (tests only: product code never reads /work/shared). */
export const referenceSchemas = join(repoRoot, '..', 'shared', 'reference', 'schemas');
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

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function readTaskJson(path = join(repoRoot, 'task.json')): TaskJson {
  return readJson<TaskJson>(path);
}
