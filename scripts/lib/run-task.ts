// Runs the bundled task the way the Azure Pipelines agent does — a child `node index.js` whose environment
// is the agent's (ENDPOINT_*, SYSTEM_*, SECRET_*…) plus one INPUT_* variable per input — and reads back what
// the agent would: the `##vso[...]` logging commands on stdout. Used by `npm start`, `npm run bench` and the
// end-to-end tests, so all three run the product exactly as shipped.
//
// Asynchronous on purpose: the emulator often runs in the same process, and a synchronous spawn would stop
// it from answering the task it is waiting for.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export const repoRoot = join(__dirname, '..', '..', '..');
export const bundledTask = join(repoRoot, 'dist', 'tasks', 'ManagedIdentityConnections', 'index.js');

/** The bundle's bytes: index.js and the file it loads on the first Azure call (azure-sdk.js). */
export function bundledTaskBytes(): number {
  const folder = dirname(bundledTask);
  return readdirSync(folder)
    .filter((name) => name.endsWith('.js'))
    .reduce((sum, name) => sum + statSync(join(folder, name)).size, 0);
}

/**
 * The Node the agent would start the task with. task.json declares the Node20_1 and Node24 handlers; the agent
 * picks Node 20 unless its Node 24 switches are on (docs/architecture.md). MIC_TASK_NODE when set (a Node 24 for
 * the e2e tier or the bench), else this process's Node.
 */
export function taskNode(): string {
  return process.env.MIC_TASK_NODE || process.execPath;
}

export interface AgentCommand {
  /** e.g. `task.setvariable` */
  readonly name: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly value: string;
}

export interface TaskRun {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to exit. */
  readonly durationMs: number;
  /** From spawn to the task.complete line (the result the agent reports), when there was one. */
  readonly completedAtMs?: number;
  readonly commands: readonly AgentCommand[];
  /** `task.complete`: Succeeded, SucceededWithIssues or Failed. */
  readonly result?: string;
  readonly resultMessage?: string;
  /** Output variables set with isOutput=true. */
  readonly outputs: Readonly<Record<string, string>>;
  /** Values the task asked the agent to mask. */
  readonly secrets: readonly string[];
  /** Contents of the markdown files the task uploaded as summaries. */
  readonly summaries: readonly string[];
  /** The summary tabs' titles, in the order uploaded (the attachment name; uploadsummary: the file name). */
  readonly summaryTitles: readonly string[];
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** stdout as a person reading the agent's log would see it (see renderLine). */
  readonly log: readonly string[];
}

/** What the agent reads from task.json to build a step's inputs. */
interface TaskJsonInput {
  readonly name: string;
  readonly type: string;
  readonly aliases?: readonly string[];
  readonly defaultValue?: string;
}

/**
 * The inputs a step of this task receives from the agent, by task.json name — the agent's translation
 * (azure-pipelines-agent src/Agent.Worker/TaskRunner.cs, docs/architecture.md):
 * - a YAML step may name an input by an alias (`azureSubscription`); the task sees its name;
 * - every input of task.json is passed, with its defaultValue (or empty) when the step does not set it;
 * - values are trimmed;
 * - every filePath input, an empty one included, is rooted at Build.SourcesDirectory (or
 *   System.DefaultWorkingDirectory), so an unset environmentsFile arrives as the sources directory.
 * Inputs task.json does not declare are passed through as given, as the agent does.
 */
export function agentInputs(inputs: Readonly<Record<string, string>>, env: Readonly<Record<string, string>>, taskJsonFile = join(repoRoot, 'task.json')): Record<string, string> {
  const declared = (JSON.parse(readFileSync(taskJsonFile, 'utf8')) as { inputs: TaskJsonInput[] }).inputs;
  const given = new Map(Object.entries(inputs).map(([name, value]) => [name.toLowerCase(), { name, value }]));
  const result: Record<string, string> = {};
  const root = env.BUILD_SOURCESDIRECTORY || env.SYSTEM_DEFAULTWORKINGDIRECTORY || '';
  for (const input of declared) {
    const keys = [input.name, ...(input.aliases ?? [])].map((key) => key.toLowerCase());
    const found = keys.map((key) => given.get(key)).find((entry) => entry !== undefined);
    for (const key of keys) given.delete(key);
    const value = (found?.value ?? input.defaultValue ?? '').trim();
    result[input.name] = input.type === 'filePath' && root ? resolve(root, value) : value;
  }
  for (const { name, value } of given.values()) result[name] = value;
  return result;
}

export interface RunTaskOptions {
  /** The agent's environment for the job (the emulator's `agentEnv`). Nothing else is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** Task inputs by their task.json names or aliases, as a YAML step gives them (see agentInputs). */
  readonly inputs: Readonly<Record<string, string>>;
  readonly taskFile?: string;
  /** The Node to start the task with; default taskNode(). */
  readonly nodePath?: string;
  /** Called with each rendered log line as it arrives (e.g. to print progress). */
  readonly onLine?: (line: string) => void;
  /** Extra variables for test instrumentation (e.g. NODE_OPTIONS). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Default: System.DefaultWorkingDirectory of env, as the agent does, when that folder exists. */
  readonly cwd?: string;
  /** Called with the child's kill switch once it runs (the chaos test stops the task at chosen writes). */
  readonly onSpawn?: (kill: () => void) => void;
}

/** `INPUT_<NAME>`: upper-cased, `.` and space turned into `_`, as the agent does. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/[. ]/g, '_').toUpperCase()}`;
}

const COMMAND = /^##vso\[([\w.]+)([^\]]*)\](.*)$/;

function unescapeValue(value: string): string {
  return value.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%5D/g, ']').replace(/%3B/g, ';').replace(/%25/g, '%');
}

export function parseAgentCommand(line: string): AgentCommand | undefined {
  const match = COMMAND.exec(line);
  if (!match) return undefined;
  const properties: Record<string, string> = {};
  for (const part of match[2].trim().split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0) properties[part.slice(0, equals).trim()] = unescapeValue(part.slice(equals + 1));
  }
  return { name: match[1], properties, value: unescapeValue(match[3]) };
}

/**
 * A log line as the agent shows it: masking commands and debug lines vanish (the agent never prints them
 * unless system.debug is on), issues get their prefix, output variables read as assignments.
 */
export function renderLine(line: string): string | undefined {
  const command = parseAgentCommand(line);
  if (!command) return line;
  switch (command.name) {
    case 'task.setsecret':
    case 'task.debug':
    case 'task.uploadsummary':
    case 'task.addattachment':
      return undefined;
    case 'task.issue':
    case 'task.logissue':
      return `${command.properties.type ?? 'issue'}: ${command.value}`;
    case 'task.setvariable':
      return command.properties.isOutput === 'true' ? `output ${command.properties.variable} = ${command.value}` : undefined;
    case 'task.complete':
      return `result: ${command.properties.result} — ${command.value}`;
    default:
      return line;
  }
}

export function runTask(options: RunTaskOptions): Promise<TaskRun> {
  const env: Record<string, string> = { ...options.env, ...(options.extraEnv ?? {}) };
  for (const [name, value] of Object.entries(agentInputs(options.inputs, options.env))) env[inputVariable(name)] = value;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // The agent starts a Node task in System.DefaultWorkingDirectory (NodeHandler.cs).
    const workingDirectory = options.env.SYSTEM_DEFAULTWORKINGDIRECTORY;
    const cwd = options.cwd ?? (workingDirectory && existsSync(workingDirectory) ? workingDirectory : repoRoot);
    const child = spawn(options.nodePath ?? taskNode(), [options.taskFile ?? bundledTask], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let completedAtMs: number | undefined;
    const log: string[] = [];
    options.onSpawn?.(() => child.kill('SIGKILL'));
    const emit = (line: string) => {
      if (completedAtMs === undefined && parseAgentCommand(line)?.name === 'task.complete') completedAtMs = performance.now() - started;
      const rendered = renderLine(line);
      if (rendered === undefined) return;
      log.push(rendered);
      options.onLine?.(rendered);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      pending += chunk;
      const lines = pending.split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => {
      if (pending) emit(pending);
      resolve({ ...summarize(stdout, stderr, exitCode, performance.now() - started, log), ...(completedAtMs === undefined ? {} : { completedAtMs }) });
    });
  });
}

function summarize(stdout: string, stderr: string, exitCode: number | null, durationMs: number, log: string[]): TaskRun {
  const commands = stdout.split(/\r?\n/).map(parseAgentCommand).filter((command): command is AgentCommand => command !== undefined);
  const outputs: Record<string, string> = {};
  const secrets: string[] = [];
  const summaries: string[] = [];
  const summaryTitles: string[] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  let result: string | undefined;
  let resultMessage: string | undefined;
  for (const command of commands) {
    if (command.name === 'task.setvariable' && command.properties.isOutput === 'true') outputs[command.properties.variable ?? ''] = command.value;
    else if (command.name === 'task.setsecret') secrets.push(command.value);
    else if (command.name === 'task.uploadsummary') {
      summaries.push(readFileSync(command.value, 'utf8'));
      summaryTitles.push(basename(command.value));
    } else if (command.name === 'task.addattachment' && command.properties.type === 'Distributedtask.Core.Summary') {
      summaries.push(readFileSync(command.value, 'utf8'));
      summaryTitles.push(command.properties.name ?? basename(command.value));
    }
    else if (command.name === 'task.issue' || command.name === 'task.logissue') (command.properties.type === 'warning' ? warnings : errors).push(command.value);
    else if (command.name === 'task.complete') {
      result = command.properties.result;
      resultMessage = command.value;
    }
  }
  return {
    exitCode,
    stdout,
    stderr,
    durationMs,
    commands,
    ...(result === undefined ? {} : { result }),
    ...(resultMessage === undefined ? {} : { resultMessage }),
    outputs,
    secrets,
    summaries,
    summaryTitles,
    errors,
    warnings,
    log,
  };
}
