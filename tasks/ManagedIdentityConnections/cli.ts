#!/usr/bin/env node
// managed-identity-connections: the task's core on a workstation, so that a platform engineer can plan,
// provision or verify from a laptop with `az login` credentials. The same config rules, core and adapters as
// ManagedIdentityConnections@1; only the sign-in (the Azure CLI's account, or a PAT for Azure DevOps) and the
// console differ. docs/cli.md describes every option and the exit codes.
import type { TokenCredential } from '@azure/core-auth';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConsolePlatform, type TextSink } from './src/adapters/console-platform';
import { cliAuthentication, createPorts, PAT_VARIABLE, withResolvedProject } from './src/composition';
import { cliOptionNames, cloudDefaults, inputLimits, parseCliConfig, type CliConfig, type RawValues } from './src/config';
import { formatTaskError } from './src/core/format-run';
import { run } from './src/core/run';
import { TaskError, toTaskError } from './src/errors';
import { closestMatch } from './src/spec/did-you-mean';
import { checkSpecFile } from './src/spec/spec-file';

/** Public: scripts branch on these (docs/cli.md). */
export const exitCodes = { succeeded: 0, failed: 1, usage: 2 } as const;

export interface CliEnvironment {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Instead of the Azure CLI's account: tests sign in without `az login`. */
  readonly credential?: TokenCredential;
}

const names = cliOptionNames;

/** What only the console needs; everything else goes to parseCliConfig as raw text. */
const consoleOptions = { outputs: 'outputs', summary: 'summary', debug: 'debug', help: 'help' } as const;

const options = {
  [names.environmentsFile]: { type: 'string' },
  [names.only]: { type: 'string' },
  [names.organization]: { type: 'string' },
  [names.project]: { type: 'string' },
  [names.allowPrivilegedRoles]: { type: 'boolean' },
  [names.concurrency]: { type: 'string' },
  [names.propagationTimeoutSeconds]: { type: 'string' },
  [names.tenantId]: { type: 'string' },
  [names.armEndpoint]: { type: 'string' },
  [names.armResource]: { type: 'string' },
  [names.authorityHost]: { type: 'string' },
  [names.azureEnvironment]: { type: 'string' },
  [names.pipelineId]: { type: 'string' },
  [names.failOn]: { type: 'string' },
  [names.outputDirectory]: { type: 'string' },
  [names.scope]: { type: 'string' },
  [names.prune]: { type: 'boolean' },
  [names.maxDeletions]: { type: 'string' },
  [names.keepConnectionsUsedWithinDays]: { type: 'string' },
  [names.deleteUsedConnections]: { type: 'boolean' },
  [names.migrationScope]: { type: 'string' },
  [names.migrateUnowned]: { type: 'boolean' },
  [names.dryRun]: { type: 'boolean' },
  [names.connections]: { type: 'string' },
  [names.identityResourceGroup]: { type: 'string' },
  [names.identityLocation]: { type: 'string' },
  [consoleOptions.outputs]: { type: 'string' },
  [consoleOptions.summary]: { type: 'string' },
  [consoleOptions.debug]: { type: 'boolean' },
  [consoleOptions.help]: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

export const helpText = `Usage: managed-identity-connections <plan|provision|verify|audit|teardown|migrate-issuer|convert> --environments-file FILE
         --organization URL --project NAME [options]

Plans, provisions or verifies the environments spec from a workstation, signed in with the Azure CLI
(az login). Azure DevOps is called with $${PAT_VARIABLE} when it is set, else as the Azure CLI account.

Commands:
  plan        read everything and print what would change; writes nothing
  provision   apply the plan, then verify every connection with its TestConnection
  verify      change nothing; fail on drift or on a connection that does not sign in
  try FILE    run the spec on the offline emulator, no sign-in (try --help; docs/cli.md)
  audit       list every Azure Resource Manager connection of the project (the spec is optional:
              with it, drift is reported too); writes audit.json and audit.csv
  teardown    delete every object the task owns in the environments named by --only
  migrate-issuer  move connections from the Azure DevOps issuer to the Entra issuer (the spec's, or
              with --migration-scope project every one of the project; no spec needed then)
  convert     switch the connections named by --connections (or *) from a service principal secret to
              workload identity federation on a managed identity with the same roles (the spec is optional)

Options:
  --environments-file FILE          the environments spec (YAML or JSON)             (required)
  --organization URL                https://dev.azure.com/ORG/ (or just ORG)         (required)
  --project NAME                    project that owns the connections (name or id)   (required)
  --only NAMES                      comma-separated environments to act on (default: all)
  --allow-privileged-roles          allow roles that can write Microsoft.Authorization
  --concurrency N                   environments in parallel, ${inputLimits.concurrency.min}-${inputLimits.concurrency.max} (default ${inputLimits.concurrency.default})
  --propagation-timeout-seconds N   how long to wait out replication, ${inputLimits.propagationTimeoutSeconds.min}-${inputLimits.propagationTimeoutSeconds.max} (default ${inputLimits.propagationTimeoutSeconds.default})
  --pipeline-id ID                  the pipeline authorize: current means (default: none)
  --fail-on RULES                   audit: fail on secret, legacyIssuer, appRegistration, notOwned, drift,
                                    neverUsed
  --output-directory DIR            audit: where audit.json and audit.csv go (default .)
  --scope project|organization      audit: the project's connections (default), or every project's the
                                    signed-in account can read
  --prune                           delete owned objects the spec no longer names (default: warn)
  --max-deletions N                 refuse a plan deleting more, ${inputLimits.maxDeletions.min}-${inputLimits.maxDeletions.max} (default ${inputLimits.maxDeletions.default})
  --keep-connections-used-within-days N  keep connections used this recently, ${inputLimits.keepConnectionsUsedWithinDays.min}-${inputLimits.keepConnectionsUsedWithinDays.max} (default ${inputLimits.keepConnectionsUsedWithinDays.default})
  --delete-used-connections         delete recently used connections too
  --migration-scope spec|project    migrate-issuer: the spec's connections (default), or the project's
  --migrate-unowned                 migrate-issuer: connections without the ownership marker too
  --dry-run                         migrate-issuer, teardown: print the plan, change nothing
  --connections NAMES               convert: comma-separated connection names, or *
  --identity-resource-group ID      convert: /subscriptions/ID/resourceGroups/NAME for the new identities
  --identity-location LOCATION      convert: their Azure location (e.g. westeurope)
  --tenant-id GUID                  sign in to this tenant (default: the az account's)
  --arm-endpoint URL                Azure Resource Manager (default ${cloudDefaults.armUrl})
  --arm-resource URL                audience of ARM tokens (default: the ARM endpoint)
  --authority-host URL              Entra ID authority (default ${cloudDefaults.authorityHost})
  --azure-environment NAME          stored in created connections (default ${cloudDefaults.azureEnvironment})
  --outputs FILE                    write output variables as JSON instead of name=value lines
  --summary FILE                    write the markdown summary instead of printing it
  --debug                           print debug lines (every retry, correlation ids) on stderr
  -h, --help                        this text

Exit codes: ${exitCodes.succeeded} succeeded (warnings included), ${exitCodes.failed} failed, ${exitCodes.usage} invalid command line. See docs/cli.md.
`;

export interface CommandLine {
  readonly help: boolean;
  /** By cliOptionNames: what parseCliConfig validates. */
  readonly values: RawValues;
  readonly outputsFile?: string;
  readonly summaryFile?: string;
  readonly debug: boolean;
}

/** Throws a TaskError (MIC102) naming the option for anything node:util's parser refuses. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (caught) {
    throw commandLineError(caught);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) {
    throw new TaskError('MIC102', `Unexpected argument ${JSON.stringify(positionals[1])}: give one command (plan, provision, verify, audit, teardown, migrate-issuer or convert), then options.`, { field: names.command, remediation: seeHelp });
  }
  const raw: Record<string, string | undefined> = { [names.command]: positionals[0] };
  for (const name of Object.values(names)) {
    if (name === names.command) continue;
    const value = (values as Record<string, string | boolean | undefined>)[name];
    if (value !== undefined) raw[name] = String(value);
  }
  const text = (value: string | undefined, option: string): string | undefined => {
    if (value !== undefined && value.trim() === '') throw new TaskError('MIC102', `--${option} needs a file name.`, { field: `--${option}`, remediation: seeHelp });
    return value;
  };
  const outputsFile = text(values.outputs, consoleOptions.outputs);
  const summaryFile = text(values.summary, consoleOptions.summary);
  return {
    help: values.help === true,
    values: raw,
    ...(outputsFile === undefined ? {} : { outputsFile }),
    ...(summaryFile === undefined ? {} : { summaryFile }),
    debug: values.debug === true,
  };
}

const seeHelp = 'See --help (or docs/cli.md) for the options and the values they take.';

function commandLineError(caught: unknown): TaskError {
  const message = caught instanceof Error ? caught.message : String(caught);
  const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '';
  const code = (caught as { code?: unknown }).code;
  const known = Object.keys(options).map((name) => `--${name}`);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const suggestion = closestMatch(option, known);
    return new TaskError('MIC102', `Unknown option ${option}${suggestion ? `; did you mean ${suggestion}?` : '.'} Run with --help for the list.`, { field: option, cause: caught, remediation: seeHelp });
  }
  // node:util words it "Option '--x <value>' argument missing", "… does not take an argument" or "… is ambiguous".
  const first = message.split('\n')[0]!.replace(/ <value>/, '');
  return new TaskError('MIC102', `${first}.`.replace(/\.\.$/, '.'), { field: option || names.command, cause: caught, remediation: seeHelp });
}

export async function runCli(argv: readonly string[], environment: CliEnvironment): Promise<number> {
  const { stdout, stderr } = environment;
  // `try` runs the spec on the offline emulator: a repository tool (scripts/lib/try-spec.ts), loaded only here
  // so that plan, provision and verify never load the emulator.
  if (argv[0] === 'try') return (await import('../../scripts/lib/try-spec')).runTryCommand(argv.slice(1), environment);
  if (argv.length === 0) {
    stderr.write(helpText);
    return exitCodes.usage;
  }
  let commandLine: CommandLine;
  let config: CliConfig;
  try {
    commandLine = parseCommandLine(argv);
    if (commandLine.help) {
      stdout.write(helpText);
      return exitCodes.succeeded;
    }
    config = parseCliConfig(commandLine.values);
  } catch (caught) {
    // Nothing has signed in yet, so there is no secret to redact.
    stderr.write(`error: ${formatTaskError(toTaskError(caught))}\n`);
    return exitCodes.usage;
  }
  // The spec before any sign-in: a typo in it is a spec error (MIC111…), not a failed sign-in.
  if (config.environments.kind === 'file') {
    const spec = await checkSpecFile(config.environments.path, environment.cwd, { allowPrivilegedRoles: config.allowPrivilegedRoles, only: config.only });
    if (!spec.ok) {
      stderr.write(`error: ${formatTaskError(spec.error)}\n`);
      return exitCodes.failed;
    }
  }

  const platform = new ConsolePlatform({
    stdout,
    stderr,
    cwd: environment.cwd,
    debug: commandLine.debug,
    ...(commandLine.outputsFile === undefined ? {} : { outputsFile: commandLine.outputsFile }),
    ...(commandLine.summaryFile === undefined ? {} : { summaryFile: commandLine.summaryFile }),
  });
  try {
    const authentication = cliAuthentication(config, platform, { env: environment.env, ...(environment.credential ? { credential: environment.credential } : {}) });
    const ports = await createPorts(config, platform, authentication);
    const result = await run(await withResolvedProject(config, ports.devOps), ports);
    for (const error of result.errors) platform.error(formatTaskError(error));
    const filesWritten = platform.finish();
    if (result.status === 'failed') platform.error(`Failed: ${result.message}`);
    else platform.info(`${result.status === 'succeeded' ? 'Succeeded' : 'Succeeded with warnings'}: ${result.message}`);
    return result.status === 'failed' || !filesWritten ? exitCodes.failed : exitCodes.succeeded;
  } catch (caught) {
    // Signing in or looking up the project failed before the run could start.
    const error = toTaskError(caught);
    platform.error(formatTaskError(error));
    platform.finish();
    return exitCodes.failed;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }).then((code) => {
    process.exitCode = code;
  });
}
