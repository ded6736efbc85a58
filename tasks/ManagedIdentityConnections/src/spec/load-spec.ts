// From spec text to the desired environments the run acts on: parse, validate, resolve defaults, apply `only`.
// Pure: the caller reads the text (inline input or file) and turns problems into one TaskError.
import { problem, type Problem } from '../errors';
import type { DesiredEnvironment } from '../core/model';
import { closestMatch } from './did-you-mean';
import { parseSpecText, specDocumentFromValue, type SpecDocument } from './spec-source';
import { validateSpec } from './validate-spec';

export interface LoadSpecOptions {
  readonly allowPrivilegedRoles: boolean;
  /** Environment names to act on; empty: all. */
  readonly only: readonly string[];
}

export type LoadSpecResult =
  | { readonly ok: true; readonly environments: readonly DesiredEnvironment[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

export function loadSpecText(text: string, options: LoadSpecOptions): LoadSpecResult {
  const parsed = parseSpecText(text);
  return parsed.ok ? loadSpecDocument(parsed.document, options) : parsed;
}

export function loadSpecValue(value: unknown, options: LoadSpecOptions): LoadSpecResult {
  return loadSpecDocument(specDocumentFromValue(value), options);
}

// The whole spec is validated even when `only` selects a part: it is one file with one set of names, and a
// problem elsewhere in it would surface on the next full run anyway.
function loadSpecDocument(document: SpecDocument, options: LoadSpecOptions): LoadSpecResult {
  const validated = validateSpec(document, options);
  if (!validated.ok) return validated;
  return selectEnvironments(validated.environments, options.only);
}

export function selectEnvironments(environments: readonly DesiredEnvironment[], only: readonly string[]): LoadSpecResult {
  if (only.length === 0) return { ok: true, environments };
  const names = environments.map((environment) => environment.name);
  const unknown = only.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    return {
      ok: false,
      problems: unknown.map((name) => {
        const suggestion = closestMatch(name, names);
        return problem(
          'MIC105',
          `only names environment ${JSON.stringify(name)}, which the spec does not declare${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}. Declared: ${names.join(', ')}.`,
          { field: 'only' },
        );
      }),
    };
  }
  return { ok: true, environments: environments.filter((environment) => only.includes(environment.name)) };
}
