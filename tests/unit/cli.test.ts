// The CLI's own surface, without any service: the command line and the console. This suite protects what a
// person at a terminal and a script around the CLI rely on — every option is parsed as docs/cli.md says; every
// bad command line is refused before anything signs in, with exit code 2 and a coded error naming the option
// (all problems at once); the task's input rules hold for the options they share; and the console platform
// never lets a registered secret (or anything token-shaped) reach stdout, stderr, the outputs file or the
// summary file, while putting outputs and the summary where the options say.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodes, helpText, parseCommandLine, runCli } from '../../tasks/ManagedIdentityConnections/cli';
import { ConsolePlatform } from '../../tasks/ManagedIdentityConnections/src/adapters/console-platform';
import { cliOptionNames, parseCliConfig, type RawValues } from '../../tasks/ManagedIdentityConnections/src/config';
import { isTaskError, type TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';

class Sink {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

const required = ['plan', '--environments-file', 'envs.yml', '--organization', 'https://dev.azure.com/contoso/', '--project', 'Platform'];

function refusal(action: () => unknown): TaskError {
  try {
    action();
  } catch (error) {
    assert.ok(isTaskError(error), String(error));
    return error;
  }
  assert.fail('expected a refusal');
}

function problems(error: TaskError): { code: string; field?: string }[] {
  return (error.problems.length > 0 ? error.problems : [error]).map((item) => ({ code: item.code, ...(item.field ? { field: item.field } : {}) }));
}

function config(args: readonly string[]) {
  return parseCliConfig(parseCommandLine(args).values);
}

async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await runCli(args, { stdout, stderr, env: {}, cwd: tmpdir() });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('CLI', () => {
  describe('command line', () => {
    it('reads every option into the config, with the task\'s defaults where it gives none', () => {
      const defaults = config(required);
      assert.deepEqual(
        [defaults.source, defaults.command, defaults.environments, defaults.only, defaults.concurrency, defaults.propagationTimeoutSeconds, defaults.allowPrivilegedRoles],
        ['cli', 'plan', { kind: 'file', path: 'envs.yml' }, [], 16, 300, false],
      );
      assert.deepEqual(defaults.cloud, { armUrl: 'https://management.azure.com/', azureEnvironment: 'AzureCloud', authorityHost: 'https://login.microsoftonline.com/', armResourceId: 'https://management.azure.com/' });
      assert.deepEqual(defaults.pipeline, { collectionUri: 'https://dev.azure.com/contoso/', project: { id: '', name: 'Platform' } });
      assert.equal(defaults.verificationRun.queue, false, 'a workstation has no pipeline run to queue again');

      const all = config([
        'Provision',
        '--environments-file=envs/platform.yml',
        '--organization', 'contoso',
        '--project', 'A0A0A0A0-0000-4000-8000-000000000001',
        '--only', 'dev, prod',
        '--allow-privileged-roles',
        '--concurrency', '4',
        '--propagation-timeout-seconds', '600',
        '--tenant-id', '72F988BF-86F1-41AF-91AB-2D7CD011DB47',
        '--arm-endpoint', 'https://management.usgovcloudapi.net/',
        '--arm-resource', 'https://management.core.usgovcloudapi.net/',
        '--authority-host', 'https://login.microsoftonline.us/',
        '--azure-environment', 'AzureUSGovernment',
        '--pipeline-id', '12',
      ]);
      assert.deepEqual([all.command, all.only, all.allowPrivilegedRoles, all.concurrency, all.propagationTimeoutSeconds, all.tenantId], ['provision', ['dev', 'prod'], true, 4, 600, '72f988bf-86f1-41af-91ab-2d7cd011db47']);
      assert.deepEqual(all.cloud, { armUrl: 'https://management.usgovcloudapi.net/', azureEnvironment: 'AzureUSGovernment', authorityHost: 'https://login.microsoftonline.us/', armResourceId: 'https://management.core.usgovcloudapi.net/' });
      assert.deepEqual(all.pipeline, { collectionUri: 'https://dev.azure.com/contoso/', project: { id: 'a0a0a0a0-0000-4000-8000-000000000001', name: '' }, definitionId: 12 });
      assert.ok(Object.isFrozen(all) && Object.isFrozen(all.cloud));
      assert.deepEqual(defaults.lifecycle, { prune: false, maxDeletions: 10, keepConnectionsUsedWithinDays: 30, deleteUsedConnections: false, dryRun: false, migration: { scope: 'spec', includeUnowned: false } });
    });

    it('reads the lifecycle options, and teardown with --only', () => {
      const teardown = config(['teardown', ...required.slice(1), '--only', 'dev', '--prune', '--max-deletions', '3', '--keep-connections-used-within-days', '0', '--delete-used-connections']);
      assert.equal(teardown.command, 'teardown');
      assert.deepEqual(teardown.lifecycle, { prune: true, maxDeletions: 3, keepConnectionsUsedWithinDays: 0, deleteUsedConnections: true, dryRun: false, migration: { scope: 'spec', includeUnowned: false } });
      const migrate = config(['migrate-issuer', ...required.slice(3), '--migration-scope', 'project', '--migrate-unowned', '--dry-run']);
      assert.deepEqual([migrate.environments, migrate.lifecycle.migration, migrate.lifecycle.dryRun], [{ kind: 'none' }, { scope: 'project', includeUnowned: true }, true]);
    });

    it('takes the ARM endpoint as the token audience unless told otherwise, and adds the slash an organization URL lacks', () => {
      const parsed = config([...required.slice(0, 3), '--organization', 'https://dev.azure.com/contoso', '--project', 'Platform', '--arm-endpoint', 'https://127.0.0.1:8443/']);
      assert.equal(parsed.cloud.armResourceId, 'https://127.0.0.1:8443/');
      assert.equal(parsed.pipeline.collectionUri, 'https://dev.azure.com/contoso/');
    });

    it('separates what only the console needs', () => {
      const line = parseCommandLine([...required, '--outputs', 'out/outputs.json', '--summary', 'out/summary.md', '--debug']);
      assert.deepEqual([line.outputsFile, line.summaryFile, line.debug, line.help], ['out/outputs.json', 'out/summary.md', true, false]);
      assert.equal(parseCommandLine(['-h']).help, true);
    });

    const parserRefusals: [string, string[], string, RegExp][] = [
      ['an unknown option, suggesting the closest', [...required, '--concurency', '4'], '--concurency', /did you mean --concurrency\?/],
      ['an option without its value', [...required, '--concurrency'], '--concurrency', /argument missing/],
      ['an option followed by another option instead of its value', ['plan', '--project', '--only', 'dev'], '--project', /argument is ambiguous/],
      ['a value given to a flag', [...required, '--allow-privileged-roles=false'], '--allow-privileged-roles', /does not take an argument/],
      ['a second command', [...required, 'provision'], 'command', /Unexpected argument "provision"/],
      ['an empty outputs file name', [...required, '--outputs='], '--outputs', /needs a file name/],
      ['an empty summary file name', [...required, '--summary', ' '], '--summary', /needs a file name/],
    ];
    for (const [label, args, field, message] of parserRefusals) {
      it(`refuses ${label}`, () => {
        const error = refusal(() => parseCommandLine(args));
        assert.deepEqual(problems(error), [{ code: 'MIC102', field }]);
        assert.match(error.message, message);
      });
    }

    const configRefusals: [string, RawValues, string, string][] = [
      ['no command', { [cliOptionNames.command]: undefined }, 'MIC101', 'command'],
      ['an unknown command', { [cliOptionNames.command]: 'apply' }, 'MIC102', 'command'],
      ['no environments file', { [cliOptionNames.environmentsFile]: undefined }, 'MIC101', '--environments-file'],
      ['no organization', { [cliOptionNames.organization]: undefined }, 'MIC101', '--organization'],
      ['an organization over http', { [cliOptionNames.organization]: 'http://tfs.contoso.local/DefaultCollection' }, 'MIC102', '--organization'],
      ['no project', { [cliOptionNames.project]: undefined }, 'MIC101', '--project'],
      ['only with an invalid name', { [cliOptionNames.only]: 'dev,Prod!' }, 'MIC102', '--only'],
      ['concurrency 0', { [cliOptionNames.concurrency]: '0' }, 'MIC102', '--concurrency'],
      ['concurrency 65', { [cliOptionNames.concurrency]: '65' }, 'MIC102', '--concurrency'],
      ['a propagation timeout of 9 s', { [cliOptionNames.propagationTimeoutSeconds]: '9' }, 'MIC102', '--propagation-timeout-seconds'],
      ['a tenant that is not a GUID', { [cliOptionNames.tenantId]: 'contoso.onmicrosoft.com' }, 'MIC102', '--tenant-id'],
      ['an ARM endpoint over http', { [cliOptionNames.armEndpoint]: 'http://management.azure.com/' }, 'MIC102', '--arm-endpoint'],
      ['an ARM resource that is not a URL', { [cliOptionNames.armResource]: 'management' }, 'MIC102', '--arm-resource'],
      ['an authority that is not a URL', { [cliOptionNames.authorityHost]: 'login' }, 'MIC102', '--authority-host'],
      ['a pipeline id of 0', { [cliOptionNames.pipelineId]: '0' }, 'MIC102', '--pipeline-id'],
      ['a pipeline id that is a name', { [cliOptionNames.pipelineId]: 'bootstrap' }, 'MIC102', '--pipeline-id'],
      ['teardown without --only', { [cliOptionNames.command]: 'teardown' }, 'MIC150', '--only'],
      ['--max-deletions 1001', { [cliOptionNames.maxDeletions]: '1001' }, 'MIC102', '--max-deletions'],
      ['--keep-connections-used-within-days -1', { [cliOptionNames.keepConnectionsUsedWithinDays]: '-1' }, 'MIC102', '--keep-connections-used-within-days'],
    ];
    for (const [label, overrides, code, field] of configRefusals) {
      it(`refuses ${label}, naming the option`, () => {
        const error = refusal(() => parseCliConfig({ ...parseCommandLine(required).values, ...overrides }));
        assert.deepEqual(problems(error), [{ code, field }]);
        if (field !== 'command') assert.ok(error.message.includes(field), error.message);
      });
    }

    it('reports every problem at once, before anything signs in, with exit code 2', async () => {
      const result = await cli(['apply', '--concurrency', '0', '--organization', 'http://x']);
      assert.equal(result.code, exitCodes.usage);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^error: MIC100: The command line has 5 problems/);
      for (const field of ['command', '--environments-file', '--concurrency', '--organization', '--project']) assert.ok(result.stderr.includes(`(${field})`), field);
    });

    it('prints help on --help with exit code 0, and on no arguments with exit code 2', async () => {
      const help = await cli(['--help']);
      assert.deepEqual([help.code, help.stdout, help.stderr], [exitCodes.succeeded, helpText, '']);
      const none = await cli([]);
      assert.deepEqual([none.code, none.stderr], [exitCodes.usage, helpText]);
    });

    it('lists every option in --help', () => {
      for (const name of Object.values(cliOptionNames)) if (name !== 'command') assert.ok(helpText.includes(`--${name} `) || helpText.includes(`--${name}\n`), name);
      for (const name of ['outputs', 'summary', 'debug', 'help']) assert.ok(helpText.includes(`--${name}`), name);
    });
  });

  describe('console platform', () => {
    const secret = 'pat-4f1c9e0b7a2d46a8b1e3c5d7f9a0b2c4';
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

    function consoleWith(options: { outputsFile?: string; summaryFile?: string; debug?: boolean } = {}) {
      const stdout = new Sink();
      const stderr = new Sink();
      const directory = mkdtempSync(join(tmpdir(), 'mic-cli-'));
      const platform = new ConsolePlatform({ stdout, stderr, cwd: directory, ...options });
      return { platform, stdout, stderr, directory };
    }

    it('puts progress on stdout, warnings and errors on stderr, and debug lines only when asked', () => {
      const quiet = consoleWith();
      quiet.platform.info('Reading 1 environment…');
      quiet.platform.warn('MIC507: no role');
      quiet.platform.error('MIC304: not authorized');
      quiet.platform.debug('retrying');
      assert.equal(quiet.stdout.text, 'Reading 1 environment…\n');
      assert.equal(quiet.stderr.text, 'warning: MIC507: no role\nerror: MIC304: not authorized\n');
      quiet.platform.warn('warning MIC409 (connections[0].authorize): no pipeline');
      assert.ok(quiet.stderr.text.endsWith('\nwarning MIC409 (connections[0].authorize): no pipeline\n'), 'a finding is not prefixed twice');
      const chatty = consoleWith({ debug: true });
      chatty.platform.debug('retrying');
      assert.equal(chatty.stderr.text, 'debug: retrying\n');
    });

    it('prints no logging command an agent would run when the CLI is a pipeline script step', () => {
      const { platform, stdout, stderr } = consoleWith();
      platform.info('role ##vso[task.setvariable variable=x]1');
      platform.warn('\u001b[1A##[error]forged');
      const printed = stdout.text + stderr.text;
      assert.ok(!/##vso\[|##\[|\u001b/.test(printed), printed);
    });

    it('never prints a registered secret, nor anything shaped like a token, on stdout or stderr', () => {
      const { platform, stdout, stderr } = consoleWith({ debug: true });
      platform.setSecret(secret);
      platform.setSecret('line-one-secret\nline-two-secret');
      for (const log of [platform.info, platform.warn, platform.error, platform.debug]) {
        log.call(platform, `call failed with ${secret} and Authorization: Bearer ${jwt}, then line-two-secret`);
      }
      platform.setOutput('token', secret);
      platform.uploadSummary(`| ${secret} |`);
      platform.finish();
      const printed = stdout.text + stderr.text;
      for (const value of [secret, jwt, 'line-two-secret']) assert.ok(!printed.includes(value), `${value} was printed:\n${printed}`);
      assert.match(printed, /call failed with \*\*\* and Authorization: Bearer \*\*\*, then \*\*\*/);
    });

    it('prints outputs as name=value lines and the summary after the log', () => {
      const { platform, stdout } = consoleWith();
      platform.setOutput('changesPresent', 'true');
      platform.info('Plan: 1 change.');
      platform.uploadSummary('## Managed identity connections — plan');
      assert.ok(platform.finish());
      assert.equal(stdout.text, 'changesPresent=true\nPlan: 1 change.\n\n## Managed identity connections — plan\n');
    });

    it('collects outputs into the --outputs JSON file and writes the summary to the --summary file, redacted', () => {
      const { platform, stdout, directory } = consoleWith({ outputsFile: 'out/outputs.json', summaryFile: 'out/summary.md' });
      platform.setSecret(secret);
      platform.setOutput('changesPresent', 'false');
      platform.setOutput('environments', `{"dev":{"note":"${secret}"}}`);
      platform.uploadSummary(`## Summary\n${secret}`);
      assert.ok(platform.finish());
      assert.equal(stdout.text, '');
      assert.deepEqual(JSON.parse(readFileSync(join(directory, 'out', 'outputs.json'), 'utf8')), { changesPresent: 'false', environments: '{"dev":{"note":"***"}}' });
      assert.equal(readFileSync(join(directory, 'out', 'summary.md'), 'utf8'), '## Summary\n***\n');
    });

    it('reports a file it cannot write, naming the option, and says so to the caller', () => {
      const { platform, stderr, directory } = consoleWith({ outputsFile: '.' });
      assert.equal(platform.finish(), false);
      assert.ok(stderr.text.includes(`error: MIC102 (--outputs): cannot write ${directory}`), stderr.text);
    });

    it('reads the environments file relative to its working directory', async () => {
      const { platform, directory } = consoleWith();
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(directory, 'envs.yml'), 'environments: []\n');
      assert.equal(await platform.readTextFile('envs.yml'), 'environments: []\n');
    });
  });
});
