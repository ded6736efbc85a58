// An in-memory Platform: records every line, secret, output and summary, and serves files from a map.
import type { Platform } from '../../tasks/ManagedIdentityConnections/src/ports/platform';

export type LogLevel = 'info' | 'warn' | 'debug';

export class FakePlatform implements Platform {
  readonly lines: { level: LogLevel; message: string }[] = [];
  readonly secrets: string[] = [];
  readonly outputs = new Map<string, string>();
  readonly summaries: string[] = [];
  readonly files = new Map<string, string>();

  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }

  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }

  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }

  setSecret(value: string): void {
    this.secrets.push(value);
  }

  setOutput(name: string, value: string): void {
    this.outputs.set(name, value);
  }

  uploadSummary(markdown: string): void {
    this.summaries.push(markdown);
  }

  async writeTextFile(path: string, text: string): Promise<string> {
    this.files.set(path, text);
    return path;
  }

  async readTextFile(path: string): Promise<string> {
    const text = this.files.get(path);
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  }

  /** Everything the task made visible: log lines, output values and summaries. */
  everythingPrinted(): string {
    return [...this.lines.map((line) => line.message), ...[...this.outputs].map(([name, value]) => `${name}=${value}`), ...this.summaries].join('\n');
  }

  messages(level: LogLevel): string[] {
    return this.lines.filter((line) => line.level === level).map((line) => line.message);
  }
}
