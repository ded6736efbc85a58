// Offline check of Azure Pipelines YAML, for our templates, samples and the pipeline blocks in the docs.
//
// Microsoft's pipeline schema (copied into tests/reference) knows only the built-in tasks, so a file using
// ManagedIdentityConnections@1 would fail on its `task:` line. We add our task to the schema, generated from
// task.json, in the two places a task is described: the list of task names (definitions.task.properties.task)
// and the list of task shapes with their inputs (definitions.task.anyOf). That is what the VS Code extension's
// organization-specific schema does for installed extensions.
//
// azure-pipelines-language-service then validates each file on its own (templates are not expanded, and
// `${{ }}` expressions are not checked). It reports schema violations as warnings (severity 2) and only YAML
// syntax as errors (severity 1); both are failures here, or a misspelled key would pass.
//
// The service expands template expressions when it compiles a run, before it checks what they produced, so
// `job: smoke_${{ parameters.name }}` is a valid job id. Microsoft's schema gives ids a plain character
// pattern, which such a name fails. We widen exactly those patterns (the ids of jobs, phases and steps) to
// also admit `${{ … }}` segments; the literal characters around them are still checked, and nothing else in
// the schema is relaxed.
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import * as languageService from 'azure-pipelines-language-service';
import { readJson, readTaskJson, referenceSchemas, repoRoot, type TaskInput, type TaskJson } from '../manifests/repository';

export interface YamlProblem {
  file: string;
  /** 1-based, in the file given (for a Markdown block: in the Markdown file). */
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
}

type JsonSchema = Record<string, unknown>;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The schema of one input, in the form the pipeline schema uses for built-in tasks. */
function inputSchema(input: TaskInput): JsonSchema {
  const description = input.label ?? input.name;
  const aliases = input.aliases?.length ? { aliases: input.aliases } : {};
  if (input.type === 'boolean') return { type: 'boolean', description, ignoreCase: 'key', ...aliases };
  const editable = /^true$/i.test(input.properties?.EditableOptions ?? '');
  if ((input.type === 'pickList' || input.type === 'radio') && input.options && !editable) {
    // Microsoft's schema uses `enum` here, which rejects `command: ${{ parameters.command }}`: the language service
    // lets expressions through a type check but not an enum check. Our templates pass parameters straight into
    // these inputs, so the allowed values become a pattern that also admits a whole-value expression.
    const values = Object.keys(input.options);
    return {
      type: 'string',
      description,
      ignoreCase: 'all',
      pattern: `^(?:${values.map(escapeRegExp).join('|')}|\\$\\{\\{.*\\}\\}|\\$\\(.*\\)|\\$\\[.*\\])$`,
      patternErrorMessage: `Value is not accepted. Valid values: ${values.map((value) => JSON.stringify(value)).join(', ')}, or a \${{ }}, $( ) or $[ ] expression.`,
      ...aliases,
    };
  }
  return { type: 'string', description, ignoreCase: 'key', ...aliases };
}

/** The two schema fragments that make a task known: its name (and id) pattern, and its shape with inputs. */
export function taskSchemaEntries(task: TaskJson): { name: JsonSchema; shape: JsonSchema } {
  const name = {
    description: `${task.friendlyName}\n\n${task.description}`,
    ignoreCase: 'value',
    // Pipelines may name a task by its name or by its id, each with the major version.
    pattern: `^(${escapeRegExp(task.name)}|${task.id})@${task.version.Major}$`,
  };
  // As for built-in tasks: an input the server fills from its default need not be written.
  const required = task.inputs.filter((input) => input.required && (input.defaultValue ?? '') === '').map((input) => input.name);
  const inputs: JsonSchema = {
    description: `${task.friendlyName} inputs`,
    properties: Object.fromEntries(task.inputs.map((input) => [input.name, inputSchema(input)])),
    additionalProperties: false,
    ...(required.length ? { required } : {}),
  };
  const shape = {
    properties: { task: name, inputs },
    doNotSuggest: false,
    firstProperty: ['task'],
    required: required.length ? ['task', 'inputs'] : ['task'],
  };
  return { name, shape };
}

/**
 * One template expression, `${{ … }}`, as a regular expression: anything up to the first `}}`. (An
 * expression with `}}` inside a quoted string would be cut short here; no id in our YAML needs one.)
 */
export const TEMPLATE_EXPRESSION = String.raw`\$\{\{(?:[^}]|\}(?!\}))*\}\}`;

/**
 * An id pattern of Microsoft's schema, `^[class]*$`, widened to also admit template expressions between
 * the characters of the class: `^(?:[class]|${{ … }})*$`. Any other shape throws, so a schema update that
 * changes a pattern is noticed instead of silently left strict or made lax.
 */
export function admitTemplateExpressions(pattern: string): string {
  const id = /^\^(\[[^\]]+\])\*\$$/.exec(pattern);
  if (!id) throw new Error(`pipeline schema: expected an id pattern ^[…]*$, got ${pattern}`);
  return `^(?:${id[1]}|${TEMPLATE_EXPRESSION})*$`;
}

/** The ids the template engine may build: `job:` of a job, `phase:` of a legacy phase, `name:` of a step. */
const BUILT_IDS: readonly { definition: string; property: string }[] = [
  { definition: 'job', property: 'job' },
  { definition: 'phase', property: 'phase' },
  { definition: 'step', property: 'name' },
  { definition: 'taskBase', property: 'name' },
  { definition: 'task', property: 'name' },
];

/**
 * Replaces each id property of BUILT_IDS (inline, or a `$ref` to a shared definition such as referenceName,
 * which resource aliases also use and so is left as it is) with a copy whose pattern admits expressions.
 */
function admitTemplateExpressionsInIds(definitions: Record<string, JsonSchema>): void {
  for (const { definition, property } of BUILT_IDS) {
    const owner = definitions[definition] as { properties?: Record<string, JsonSchema>; anyOf?: { properties?: Record<string, JsonSchema> }[] } | undefined;
    let widened = 0;
    for (const variant of [owner, ...(owner?.anyOf ?? [])]) {
      const id = variant?.properties?.[property];
      if (!id) continue;
      const { $ref, ...own } = id as JsonSchema & { $ref?: string };
      const target = $ref ? (definitions[$ref.replace('#/definitions/', '')] ?? {}) : {};
      const pattern = (own.pattern ?? target.pattern) as string | undefined;
      if (typeof pattern !== 'string') throw new Error(`pipeline schema: ${definition}.${property} has no pattern to widen`);
      variant!.properties![property] = {
        ...target,
        ...own,
        pattern: admitTemplateExpressions(pattern),
        patternErrorMessage: `String does not match the pattern of "${pattern}" (\${{ }} template expressions aside).`,
      };
      widened++;
    }
    if (widened === 0) throw new Error(`pipeline schema: no ${definition}.${property} to widen; has the schema changed?`);
  }
}

/** The vendored pipeline schema with our task added and built ids admitted. */
export function pipelineSchema(task: TaskJson = readTaskJson()): JsonSchema {
  const schema = readJson<{ definitions: Record<string, JsonSchema> & { task: { properties: { task: { anyOf: JsonSchema[] } }; anyOf: JsonSchema[] } } }>(
    join(referenceSchemas, 'azure-pipelines-service-schema.json'),
  );
  const { name, shape } = taskSchemaEntries(task);
  schema.definitions.task.properties.task.anyOf.push(name);
  schema.definitions.task.anyOf.push(shape);
  admitTemplateExpressionsInIds(schema.definitions);
  return schema as unknown as JsonSchema;
}

let service: languageService.LanguageService | undefined;
// The language service writes progress to console.log; calls run one at a time so that silencing it is safe.
let queue: Promise<unknown> = Promise.resolve();

function getService(): languageService.LanguageService {
  if (service) return service;
  service = languageService.getLanguageService(
    (uri) => Promise.reject(new Error(`offline: the YAML check fetches no schema (${uri})`)),
    [],
    // No custom schema provider (the typings demand one, the code checks for it): the one schema below matches every file.
    undefined as unknown as Parameters<typeof languageService.getLanguageService>[2],
    { resolveRelativePath: (path, base) => new URL(path, base).toString() },
  );
  service.configure({ validate: true, schemas: [{ uri: 'file:///azure-pipelines-schema.json', fileMatch: ['*'], schema: pipelineSchema() }] });
  return service;
}

/**
 * Validates one YAML document as an Azure Pipelines file (pipeline or template). Returns every error and
 * warning; an empty list means it passed. `firstLine` shifts line numbers, for blocks taken from Markdown.
 */
export function validatePipelineYaml(text: string, file = 'pipeline.yml', firstLine = 1): Promise<YamlProblem[]> {
  const run = queue.then(async () => {
    const document = languageService.TextDocument.create(`file:///${encodeURIComponent(file)}`, 'azure-pipelines', 1, text);
    const log = console.log;
    console.log = () => undefined;
    try {
      const diagnostics = await getService().doValidation(document, languageService.parse(text));
      return diagnostics
        .filter((diagnostic) => diagnostic.severity === 1 || diagnostic.severity === 2)
        .map((diagnostic): YamlProblem => ({
          file,
          line: diagnostic.range.start.line + firstLine,
          column: diagnostic.range.start.character + 1,
          severity: diagnostic.severity === 1 ? 'error' : 'warning',
          message: typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value,
        }));
    } finally {
      console.log = log;
    }
  });
  queue = run.catch(() => undefined);
  return run;
}

/** Every file under `folder` whose name ends in one of `extensions`, sorted; none if the folder does not exist. */
export function filesUnder(folder: string, extensions: string[]): string[] {
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((entry) => entry.isFile() && extensions.includes(extname(entry.name).toLowerCase()))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Every .yml and .yaml file under `folder`, e.g. templates/ or samples/. */
export const yamlFilesUnder = (folder: string): string[] => filesUnder(folder, ['.yml', '.yaml']);

export interface FencedBlock {
  /** The line of the Markdown file where the block's first YAML line is (1-based). */
  line: number;
  text: string;
}

/**
 * The pipeline blocks of a Markdown file: fences whose info string is exactly `yaml` or `yml`. A YAML block
 * that is not a pipeline (an environments spec, say) carries a second word, e.g. ```` ```yaml environments ````,
 * which GitHub ignores when it highlights and this check skips.
 */
export function fencedPipelineBlocks(markdown: string): FencedBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: FencedBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*(.*)$/.exec(lines[index]!);
    if (!open) continue;
    const [, indent, fence, language, rest] = open;
    const end = lines.findIndex((line, at) => at > index && line.trim().startsWith(fence!) && line.trim().replace(/[`~]/g, '') === '');
    const closing = end < 0 ? lines.length : end;
    if (/^ya?ml$/i.test(language!) && rest!.trim() === '') {
      const body = lines.slice(index + 1, closing).map((line) => (line.startsWith(indent!) ? line.slice(indent!.length) : line));
      blocks.push({ line: index + 2, text: `${body.join('\n')}\n` });
    }
    index = closing;
  }
  return blocks;
}

/** Validates YAML files and the pipeline blocks of Markdown files, reporting paths relative to the repository. */
export async function validatePipelineFiles(paths: string[]): Promise<YamlProblem[]> {
  const problems: YamlProblem[] = [];
  for (const path of paths) {
    const name = relative(repoRoot, path);
    const text = readFileSync(path, 'utf8');
    if (extname(path).toLowerCase() === '.md') {
      for (const block of fencedPipelineBlocks(text)) problems.push(...(await validatePipelineYaml(block.text, name, block.line)));
    } else {
      problems.push(...(await validatePipelineYaml(text, name)));
    }
  }
  return problems;
}

/** One line per problem, `file:line:column severity: message`, with the long "valid values" lists cut short. */
export function formatProblems(problems: YamlProblem[]): string {
  return problems
    .map((problem) => {
      const message = problem.message.length > 300 ? `${problem.message.slice(0, 300)}…` : problem.message;
      return `${problem.file}:${problem.line}:${problem.column} ${problem.severity}: ${message}`;
    })
    .join('\n');
}
