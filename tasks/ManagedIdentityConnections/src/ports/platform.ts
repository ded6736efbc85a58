// The agent, as the core sees it. The task-lib adapter maps this line for line onto azure-pipelines-task-lib;
// a CLI adapter maps it onto the console. The core never imports task-lib (docs/architecture.md).

export interface Platform {
  /** A progress line for the log. */
  info(message: string): void;
  /** A problem that does not fail the run (shown as a warning issue). */
  warn(message: string): void;
  /** Detail for system.debug runs only. */
  debug(message: string): void;
  /** Masks a value in every later log line. Adapters call it the moment a token exists; the core calls it too. */
  setSecret(value: string): void;
  /** An output variable of the step (isOutput: true), readable as `stepName.name`. */
  setOutput(name: string, value: string): void;
  /** Attaches markdown to the run's summary tab. */
  uploadSummary(markdown: string): void;
  /**
   * Starts a collapsible group of log lines (the agent's `##[group]`), ended by endGroup. Optional: a
   * platform without groups prints the title as a line.
   */
  group?(title: string): void;
  endGroup?(): void;
  /** Reads a UTF-8 text file, relative paths against the working directory (environmentsFile). */
  readTextFile(path: string): Promise<string>;
  /** Writes a UTF-8 text file (creating its directory), relative paths as for readTextFile; returns the absolute path. */
  writeTextFile(path: string, text: string): Promise<string>;
}
