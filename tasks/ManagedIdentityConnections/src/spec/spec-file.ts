// An environments file read and checked on its own, before anything signs in: the CLI and `npm run try` call
// it first, so that a typo in the spec gives its coded spec error (MIC110–MIC124) rather than whatever the
// first network call would have failed with. The task needs no such step: its sign-in is lazy, and run()
// checks the spec before the first call.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DesiredEnvironment } from '../core/model';
import { TaskError, type Problem } from '../errors';
import { loadSpecText, type LoadSpecOptions } from './load-spec';

export type SpecFileResult = { readonly ok: true; readonly environments: readonly DesiredEnvironment[] } | { readonly ok: false; readonly error: TaskError };

/** Reads `path` (relative to `cwd`) and validates it: MIC104 when it cannot be read, the spec's own codes else. */
export async function checkSpecFile(path: string, cwd: string, options: LoadSpecOptions): Promise<SpecFileResult> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, path), 'utf8');
  } catch (caught) {
    const reason = caught instanceof Error ? caught.message : String(caught);
    return { ok: false, error: new TaskError('MIC104', `The environments file ${path} cannot be read: ${reason}`, { field: 'environmentsFile', cause: caught }) };
  }
  const loaded = loadSpecText(text, options);
  if (loaded.ok) return loaded;
  return { ok: false, error: specProblemsError(loaded.problems) };
}

/** The problems of a refused spec as one error (a single problem keeps its own code). */
export function specProblemsError(problems: readonly Problem[]): TaskError {
  return TaskError.aggregate(problems, `The environments spec has ${problems.length} problems; nothing was read or changed.`);
}
