// Turns spec text (YAML or JSON) into a plain value plus a way to find where any field was written, so that
// every validation problem can name a line and column. YAML 1.2 reads JSON, so one parser gives one kind of
// position and one kind of syntax error. But the YAML parser is slow on large JSON (the templates pass the
// spec as JSON; 50 environments take ~50–100 ms), and positions are only needed when there is a problem: a
// spec that is valid JSON without repeated keys is read with JSON.parse, and its positions come from the
// YAML parser only if something asks for one.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { problem, type Problem } from '../errors';

export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

export interface SpecDocument {
  readonly value: unknown;
  /** Where the field's value (or, with part 'key', its key) was written; the nearest enclosing field when unknown. */
  position(path: FieldPath, part?: 'key' | 'value'): SourcePosition | undefined;
}

export type SpecTextResult = { readonly ok: true; readonly document: SpecDocument } | { readonly ok: false; readonly problems: readonly Problem[] };

/** `environments[1].connections[0].subscriptionId` */
export function formatPath(path: FieldPath): string {
  let text = '';
  for (const segment of path) text += typeof segment === 'number' ? `[${segment}]` : text === '' ? segment : `.${segment}`;
  return text === '' ? '(spec)' : text;
}

export function parseSpecText(text: string): SpecTextResult {
  const json = parseJsonWithoutDuplicateKeys(text);
  if (json !== undefined) {
    let positioned: SpecDocument | undefined;
    return {
      ok: true,
      document: {
        value: json.value,
        position(path, part) {
          if (!positioned) {
            const parsed = parseYamlSpecText(text);
            positioned = parsed.ok ? parsed.document : specDocumentFromValue(json.value);
          }
          return positioned.position(path, part);
        },
      },
    };
  }
  return parseYamlSpecText(text);
}

/** The value of a JSON object text, or undefined when it is not one, or repeats a key (the YAML path says where). */
function parseJsonWithoutDuplicateKeys(text: string): { readonly value: unknown } | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return repeatsAKey(text) ? undefined : { value };
}

/** A JSON string, with the colon that makes it a key, or a bracket. */
const jsonToken = /"(?:[^"\\]|\\.)*"(\s*:)?|[{}[\]]/g;

/**
 * Whether an object in this (already valid) JSON text names a key twice: JSON.parse keeps the last silently,
 * the YAML path refuses it. A scan of strings and brackets is enough because the syntax is known to be valid;
 * a regular expression finds them, so the scan runs once per token, not once per character in the interpreter
 * (a 50-environment spec: 0.5 ms instead of 1–6 ms with the optimizing compiler's warm-up).
 */
function repeatsAKey(text: string): boolean {
  const open: (Set<string> | undefined)[] = [];
  jsonToken.lastIndex = 0;
  for (let match = jsonToken.exec(text); match !== null; match = jsonToken.exec(text)) {
    const [token, colon] = match;
    if (token === '{') open.push(new Set());
    else if (token === '[') open.push(undefined);
    else if (token === '}' || token === ']') open.pop();
    else if (colon !== undefined) {
      const keys = open[open.length - 1];
      if (!keys) continue;
      const key = JSON.parse(token.slice(0, token.length - colon.length)) as string;
      if (keys.has(key)) return true;
      keys.add(key);
    }
  }
  return false;
}

function parseYamlSpecText(text: string): SpecTextResult {
  const lineCounter = new LineCounter();
  // uniqueKeys: a repeated key is an error, not a silent override.
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return problem('MIC110', `The environments spec is not valid YAML or JSON: ${firstLine(error.message)} (line ${line}, column ${col}).`, {
          field: 'environments',
          line,
          column: col,
        });
      }),
    };
  }
  const positions = new Map<string, SourcePosition>();
  const record = (path: FieldPath, part: 'key' | 'value', offset: number | undefined): void => {
    if (offset === undefined) return;
    const { line, col } = lineCounter.linePos(offset);
    positions.set(positionKey(path, part), { line, column: col });
  };
  const walk = (node: unknown, path: FieldPath): void => {
    if (!node || typeof node !== 'object') return;
    record(path, 'value', (node as Node).range?.[0]);
    if (isAlias(node)) return; // content lives where the anchor is; the alias position is the best we have
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const keyRange = (pair.key as Node | null)?.range;
        record([...path, key], 'key', keyRange?.[0]);
        if (pair.value) walk(pair.value, [...path, key]);
        else record([...path, key], 'value', keyRange?.[0]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => walk(item, [...path, index]));
    }
  };
  walk(document.contents, []);
  // maxAliasCount bounds alias expansion ("billion laughs") in text that may come from a pull request.
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    const message = error instanceof Error ? firstLine(error.message) : String(error);
    return { ok: false, problems: [problem('MIC110', `The environments spec cannot be read: ${message}.`, { field: 'environments' })] };
  }
  return {
    ok: true,
    document: {
      value,
      position(path, part = 'value') {
        const exact = positions.get(positionKey(path, part));
        if (exact) return exact;
        // Something missing is best shown where its parent field is written: the parent's key line
        // (`identity:`), not the first line of its content.
        for (let length = path.length - (part === 'key' ? 0 : 1); length >= 0; length -= 1) {
          const prefix = path.slice(0, length);
          const found = positions.get(positionKey(prefix, 'key')) ?? positions.get(positionKey(prefix, 'value'));
          if (found) return found;
        }
        return undefined;
      },
    },
  };
}

/** A spec given as a value (e.g. by a CLI that already parsed it): same checks, no positions. */
export function specDocumentFromValue(value: unknown): SpecDocument {
  return { value, position: () => undefined };
}

function positionKey(path: FieldPath, part: 'key' | 'value'): string {
  return `${part}:${JSON.stringify(path)}`;
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message;
}
