// The Platform port on azure-pipelines-task-lib: the only file of the core's world that maps onto it, line
// for line. Import only `azure-pipelines-task-lib/task`: that is the module MockTestRunner can replace.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tl from 'azure-pipelines-task-lib/task';
import type { Platform } from '../ports/platform';

export class TaskLibPlatform implements Platform {
  /** Several layers mask the same token (the response policy, the credential wrapper); tell the agent once. */
  private readonly masked = new Set<string>();
  /**
   * Progress lines waiting to be written. A large run logs a line per action, many in the same turn of the event
   * loop; stdout to the agent is a pipe, written synchronously, so each write is a system call. Lines are
   * written together at the end of the turn, and before anything task-lib writes itself, so the order stays.
   */
  private pending = '';

  info(message: string): void {
    // Not console.log: it formats its arguments first (a few times cheaper without).
    if (this.pending === '') setImmediate(() => this.flush());
    this.pending += `${message}\n`;
  }

  warn(message: string): void {
    this.flush();
    tl.warning(message);
  }

  debug(message: string): void {
    this.flush();
    tl.debug(message);
  }

  /** Writes the pending progress lines; the entry point calls it before it sets the result. */
  flush(): void {
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
    tl.uploadSummary(path);
  }

  readTextFile(path: string): Promise<string> {
    return readFile(resolve(path), 'utf8');
  }
}
