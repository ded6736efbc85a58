// The Platform port on azure-pipelines-task-lib: the only file of the core's world that maps onto it, line
// for line. Import only `azure-pipelines-task-lib/task`: that is the module MockTestRunner can replace.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as tl from 'azure-pipelines-task-lib/task';
import { neutralizeLoggingCommands as safe } from '../core/redact';
import type { Platform } from '../ports/platform';

/**
 * The summary tab's title: the agent names an attachment after the `name` of task.addattachment
 * (uploadsummary would name it after the file). azure-pipelines-agent src/Agent.Worker/TaskCommandExtension.cs.
 */
export const SUMMARY_TITLE = 'Managed identity connections';
const SUMMARY_ATTACHMENT_TYPE = 'Distributedtask.Core.Summary';

export class TaskLibPlatform implements Platform {
  /** Several layers mask the same token (the response policy, the credential wrapper); tell the agent once. */
  private readonly masked = new Set<string>();
  /**
   * Progress lines waiting to be written. A large run logs a line per action, many in the same turn of the event
   * loop; stdout to the agent is a pipe, written synchronously, so each write is a system call. Lines are
   * written together at the end of the turn, and before anything task-lib writes itself, so the order stays.
   */
  private pending = '';
  /** task-lib's knob: debug lines are not written unless System.Debug is on (azure-pipelines-task-lib internal.ts). */
  private readonly debugSkipped =
    tl.getVariable('DistributedTask.Tasks.Node.SkipDebugLogsWhenDebugModeOff')?.toLowerCase() === 'true' && tl.getVariable('System.Debug')?.toLowerCase() !== 'true';

  // Every line the agent reads passes neutralizeLoggingCommands: values from the spec and from services are
  // echoed, and the agent would run a logging command hidden in one (core/redact.ts).
  info(message: string): void {
    // Not console.log: it formats its arguments first (a few times cheaper without).
    this.write(`${safe(message)}\n`);
  }

  warn(message: string): void {
    this.flush();
    tl.warning(safe(message));
  }

  /**
   * Batched with the progress lines (a run logs one per action), in the form tl.debug writes: task.debug with
   * the data escaped as task-lib's taskcommand.ts does, and skipped when task-lib would skip it.
   */
  debug(message: string): void {
    if (this.debugSkipped) return;
    this.write(`##vso[task.debug]${escapeCommandData(safe(message))}\n`);
  }

  group(title: string): void {
    this.write(`##[group]${safe(title).replace(/\n/g, ' ')}\n`);
  }

  endGroup(): void {
    this.write('##[endgroup]\n');
  }

  /** An error issue (the entry point's failures). */
  error(message: string): void {
    this.flush();
    tl.error(safe(message));
  }

  /** task.complete: the result and its message. */
  complete(result: tl.TaskResult, message: string): void {
    this.flush();
    tl.setResult(result, safe(message));
  }

  private write(text: string): void {
    if (this.pending === '') setImmediate(() => this.flush());
    this.pending += text;
  }

  /** Writes the pending progress lines: before anything task-lib writes itself, and at the end of the turn. */
  private flush(): void {
    if (this.pending === '') return;
    const lines = this.pending;
    this.pending = '';
    process.stdout.write(lines);
  }

  setSecret(value: string): void {
    this.flush();
    // task-lib refuses multi-line secrets; tokens are single-line, so mask each line of anything else.
    for (const line of value.split(/\r?\n/)) {
      if (line.trim() === '' || this.masked.has(line)) continue;
      this.masked.add(line);
      tl.setSecret(line);
    }
  }

  setOutput(name: string, value: string): void {
    this.flush();
    // The logging command alone: tl.setVariable also writes a debug line repeating the value, which for the
    // `environments` output (every environment as JSON) doubled the task's output.
    tl.command('task.setvariable', { variable: name, isOutput: 'true', issecret: 'false' }, value);
  }

  uploadSummary(markdown: string): void {
    this.flush();
    const directory = tl.getVariable('Agent.TempDirectory') ?? mkdtempSync(join(tmpdir(), 'mic-'));
    const path = join(directory, `managed-identity-connections-${process.pid}-${Date.now()}.md`);
    writeFileSync(path, markdown, 'utf8');
    tl.addAttachment(SUMMARY_ATTACHMENT_TYPE, SUMMARY_TITLE, path);
  }

  readTextFile(path: string): Promise<string> {
    return readFile(resolve(path), 'utf8');
  }

  async writeTextFile(path: string, text: string): Promise<string> {
    const target = resolve(path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text, 'utf8');
    return target;
  }
}

/** A logging command's data, escaped as task-lib does it (taskcommand.ts escapedata). */
function escapeCommandData(text: string): string {
  return text.replace(/%/g, '%AZP25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
