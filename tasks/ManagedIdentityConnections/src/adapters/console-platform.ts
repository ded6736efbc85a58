// The Platform port on a terminal, for the CLI: progress on stdout, warnings and errors on stderr, output
// variables as `name=value` lines (or collected into a JSON file), the run summary into a file or printed
// after the log. A terminal has no agent to mask secrets, so this adapter does it: every value given to
// setSecret is scrubbed — with anything shaped like a token — from every line, output and file it writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { neutralizeLoggingCommands, redact } from '../core/redact';
import type { Platform } from '../ports/platform';

export interface TextSink {
  write(text: string): unknown;
}

export interface ConsolePlatformOptions {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Collect output variables into this JSON file instead of printing them. */
  readonly outputsFile?: string;
  /** Write the run summary (markdown) to this file instead of printing it. */
  readonly summaryFile?: string;
  /** Print debug lines (on stderr). */
  readonly debug?: boolean;
  /** Relative paths (the environments file, --outputs, --summary) resolve against it. */
  readonly cwd: string;
}

export class ConsolePlatform implements Platform {
  private readonly secrets: string[] = [];
  private readonly outputs: Record<string, string> = {};
  private readonly summaries: string[] = [];

  constructor(private readonly options: ConsolePlatformOptions) {}

  info(message: string): void {
    this.print(this.options.stdout, message);
  }

  warn(message: string): void {
    // Callers may label the line themselves; never print the label twice.
    this.print(this.options.stderr, /^warning\b/i.test(message) ? message : `warning: ${message}`);
  }

  /** Not part of the port: the entry point reports the run's errors through it. */
  error(message: string): void {
    this.print(this.options.stderr, `error: ${message}`);
  }

  debug(message: string): void {
    if (this.options.debug) this.print(this.options.stderr, `debug: ${message}`);
  }

  setSecret(value: string): void {
    // Like the agent: each line of a multi-line value on its own, so a secret split over lines still matches.
    for (const line of value.split(/\r?\n/)) if (line.trim() !== '' && !this.secrets.includes(line)) this.secrets.push(line);
  }

  setOutput(name: string, value: string): void {
    if (this.options.outputsFile === undefined) this.print(this.options.stdout, `${name}=${value}`);
    else this.outputs[name] = this.clean(value);
  }

  uploadSummary(markdown: string): void {
    this.summaries.push(this.clean(markdown));
  }

  readTextFile(path: string): Promise<string> {
    return readFile(resolve(this.options.cwd, path), 'utf8');
  }

  async writeTextFile(path: string, text: string): Promise<string> {
    const target = resolve(this.options.cwd, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, this.clean(text), 'utf8');
    return target;
  }

  /**
   * At the end of the run: writes the outputs and summary files, or prints the summary after the log. A
   * file that cannot be written is reported and makes finish() return false; nothing else is affected.
   */
  finish(): boolean {
    let ok = true;
    const summary = this.summaries.join('\n\n');
    if (this.options.outputsFile !== undefined) ok = this.writeFile(this.options.outputsFile, `${JSON.stringify(this.outputs, null, 2)}\n`, '--outputs') && ok;
    if (this.options.summaryFile !== undefined) ok = this.writeFile(this.options.summaryFile, `${summary}\n`, '--summary') && ok;
    else if (summary !== '') this.print(this.options.stdout, `\n${summary}`);
    return ok;
  }

  private writeFile(path: string, text: string, option: string): boolean {
    const target = resolve(this.options.cwd, path);
    try {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text, 'utf8');
      return true;
    } catch (caught) {
      this.error(`MIC102 (${option}): cannot write ${target}: ${caught instanceof Error ? caught.message : String(caught)}`);
      return false;
    }
  }

  private clean(text: string): string {
    return redact(text, this.secrets);
  }

  // Run from a pipeline's script step, the CLI's output is read by the agent too (core/redact.ts).
  private print(sink: TextSink, text: string): void {
    sink.write(`${neutralizeLoggingCommands(this.clean(text))}\n`);
  }
}
