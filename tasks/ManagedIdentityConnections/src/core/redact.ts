// Last line of defence for secrets in text the task prints. Adapters mask tokens with setSecret the moment
// they exist, and the core never puts one in a message; this still scrubs known secret values and anything
// shaped like a JWT or a bearer header from every line before it reaches the platform, because error text
// from services and SDKs is not under our control.

const jwtPattern = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const bearerPattern = /(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  // Longest first, so that a secret containing another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) result = result.split(secret).join('***');
  }
  return result.replace(jwtPattern, '***').replace(bearerPattern, '$1***');
}

// The agent runs a logging command found anywhere in a line of the task's output (`##vso[`; azure-pipelines-
// agent src/Microsoft.VisualStudio.Services.Agent/Command.cs TryParse uses IndexOf) and formats lines that
// start with `##[` (group, error, section…); it splits lines at CR as well as LF. Text that comes from a spec,
// a service or an SDK could carry any of them: a role named `##vso[task.setvariable …]` would set a variable.
// ANSI escapes could hide or fake text. So every printed value has the prefixes broken with a zero-width space
// (it reads the same, and no longer matches), ANSI sequences removed, and control characters (CR included)
// shown as U+FFFD. Only LF (our own line breaks) and TAB pass.
const ansiEscape = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_])/g;
const controlCharacter = /[\u0000-\u0008\u000b-\u001f\u007f\u0085\u2028\u2029]/g;
const commandPrefix = /#(?=#(?:vso)?\[)/gi;

export function neutralizeLoggingCommands(text: string): string {
  return text.replace(ansiEscape, '').replace(controlCharacter, '\ufffd').replace(commandPrefix, '#\u200b');
}
