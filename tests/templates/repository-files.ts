// Where the template pack, samples and docs live, and small readers the template tests share.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';

/** The repository root: tests run from build/tests/templates/. */
export const root = join(__dirname, '..', '..', '..');
export const templatesDir = join(root, 'templates');
export const samplesDir = join(root, 'samples');
export const scriptsDir = join(templatesDir, 'scripts');

export function listFiles(dir: string, suffixes: readonly string[]): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...listFiles(path, suffixes));
    else if (suffixes.some((suffix) => name.endsWith(suffix))) found.push(path);
  }
  return found;
}

export function repoPath(path: string): string {
  return relative(root, path).split('\\').join('/');
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readYaml(path: string): unknown {
  return parse(readText(path));
}

/** Every template of the pack (templates/**.yml). */
export function templateFiles(): string[] {
  return listFiles(templatesDir, ['.yml', '.yaml']);
}

/** Every pipeline among the samples (samples/*.yml except the environments spec). */
export function samplePipelineFiles(): string[] {
  return listFiles(samplesDir, ['.yml', '.yaml']).filter((path) => !/environments\.ya?ml$/.test(path));
}

/** Fenced blocks of one language in a markdown file, with the line each starts on. */
export function fencedBlocks(markdown: string, language: string): { line: number; text: string }[] {
  const blocks: { line: number; text: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    if (open[1] === language) blocks.push({ line: start + 1, text: body.join('\n') + '\n' });
  }
  return blocks;
}

export type YamlValue = null | string | number | boolean | YamlValue[] | { [key: string]: YamlValue };

export function isMapping(value: unknown): value is Record<string, YamlValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Visits every mapping in a parsed YAML document. */
export function eachMapping(value: unknown, visit: (mapping: Record<string, YamlValue>) => void): void {
  if (Array.isArray(value)) for (const item of value) eachMapping(item, visit);
  else if (isMapping(value)) {
    visit(value);
    for (const child of Object.values(value)) eachMapping(child, visit);
  }
}

/**
 * The keys of a mapping as the pipeline would see them after template expansion: keys of nested
 * `${{ if … }}:` / `${{ else }}:` / `${{ elseif … }}:` blocks count as keys of the mapping itself.
 */
export function effectiveKeys(mapping: Record<string, YamlValue>): string[] {
  const keys: string[] = [];
  for (const [key, value] of Object.entries(mapping)) {
    if (/^\$\{\{\s*(if|else|elseif)\b/.test(key) && isMapping(value)) keys.push(...effectiveKeys(value));
    else keys.push(key);
  }
  return keys;
}
