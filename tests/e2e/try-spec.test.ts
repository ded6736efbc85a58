// `npm run try` (scripts/lib/try-spec.ts) rehearses a spec on the world derived from it: every sample spec and
// every spec example of the docs must run green through plan → provision → verify → rerun with the bundled
// task; a spec with a typo is refused with its code before any emulator starts; a spec the least-rights
// bootstrap cannot carry out fails as the real run would and says which right is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { latencyProfiles } from '../../scripts/lib/latency-profiles';
import { repoRoot } from '../../scripts/lib/run-task';
import { runTryCommand, trySpec, type TryOptions, type TryOutcome } from '../../scripts/lib/try-spec';
import { runCli } from '../../tasks/ManagedIdentityConnections/cli';
import { defaultSeed } from '../emulator/modules';
import { testCertificateAuthority } from '../helpers/emulator';
import { connectionNamed, credentialsOf, identityNamed, type WorldState } from './harness';

interface SpecSource {
  readonly label: string;
  /** Relative to the scratch folder, or absolute. */
  readonly file: string;
}

class Captured {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

const SUB = '22222222-0000-4000-8000-000000000001';

describe('e2e: npm run try', function () {
  this.timeout(60_000);
  const scratch = mkdtempSync(join(tmpdir(), 'mic-try-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    writeFileSync(join(scratch, name), text);
    return name;
  }

  /** The samples: environments files, and the inline spec of every sample pipeline that extends the template. */
  function sampleSpecs(): SpecSource[] {
    const sources: SpecSource[] = [{ label: 'samples/environments.yml', file: join(repoRoot, 'samples', 'environments.yml') }];
    for (const name of readdirSync(join(repoRoot, 'samples')).filter((file) => file.endsWith('.yml') && file !== 'environments.yml').sort()) {
      const pipeline = parse(readFileSync(join(repoRoot, 'samples', name), 'utf8')) as { extends?: { parameters?: { environments?: unknown } } };
      const inline = pipeline.extends?.parameters?.environments;
      if (inline) sources.push({ label: `samples/${name} (its inline spec)`, file: write(`sample-${name}`, JSON.stringify(inline)) });
    }
    return sources;
  }

  /** Every ```yaml environments / ```json environments block of the README and docs/. */
  function docsSpecs(): SpecSource[] {
    const pages = ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((file) => file.endsWith('.md')).sort().map((file) => `docs/${file}`)];
    return pages.flatMap((page) =>
      [...readFileSync(join(repoRoot, page), 'utf8').matchAll(/```(yaml|json) environments\n([\s\S]*?)```/g)].map((match, index) => ({
        label: `${page} example ${index + 1}`,
        file: write(`${page.replace(/\W/g, '-')}-${index + 1}.${match[1]}`, match[2]!),
      })),
    );
  }

  function options(file: string, extra: Partial<TryOptions> = {}): TryOptions {
    return { specFile: file, cwd: scratch, propagationMs: 0, legacyIssuer: false, latencyProfile: 'none', keep: false, allowPrivilegedRoles: false, ...extra };
  }

  async function rehearse(file: string, extra: Partial<TryOptions> = {}, untilStopped?: () => Promise<void>): Promise<{ outcome: TryOutcome; stdout: string; stderr: string }> {
    const stdout = new Captured();
    const stderr = new Captured();
    const outcome = await trySpec(options(file, extra), { stdout, stderr, ca: testCertificateAuthority(), ...(untilStopped ? { untilStopped } : {}) });
    return { outcome, stdout: stdout.text, stderr: stderr.text };
  }

  function assertGreen({ outcome, stdout, stderr }: Awaited<ReturnType<typeof rehearse>>): void {
    const context = `${stdout}\n${stderr}`.slice(-6000);
    assert.equal(outcome.exitCode, 0, context);
    assert.deepEqual(outcome.steps.map((step) => [step.step, step.run.result]), [['plan', 'Succeeded'], ['provision', 'Succeeded'], ['verify', 'Succeeded'], ['rerun', 'Succeeded']], context);
    const writes = Object.fromEntries(outcome.steps.map((step) => [step.step, step.writes]));
    assert.ok(writes.provision! > 0, 'provision wrote');
    assert.deepEqual([writes.plan, writes.verify, writes.rerun], [0, 0, 0]);
    assert.match(stdout, /What the real run needs that the spec takes for granted/);
  }

  describe('every sample spec and every spec example of the docs runs green', () => {
    const sources = [...sampleSpecs(), ...docsSpecs()];

    it('finds them: samples/environments.yml, the sample pipelines\' inline specs and the docs\' examples', () => {
      assert.ok(sources.filter((source) => source.label.startsWith('samples/')).length >= 4, sources.map((source) => source.label).join(', '));
      assert.ok(sources.filter((source) => source.label.startsWith('docs/')).length >= 5, sources.map((source) => source.label).join(', '));
    });

    for (const source of sources) {
      it(source.label, async () => assertGreen(await rehearse(source.file)));
    }
  });

  const typo = `
defaults: { subscriptionId: ${SUB}, identityResourceGroup: rg-identities, location: westeurope }
environments:
  - name: dev
    connections: [{ name: app-dev, descripton: Deploys the app }]
`;

  it('refuses a spec with a typo with its coded error, before any emulator starts', async () => {
    const { outcome, stdout, stderr } = await rehearse(write('typo.yml', typo));
    assert.equal(outcome.exitCode, 1);
    assert.equal(outcome.emulatorStarted, false);
    assert.deepEqual(outcome.steps, []);
    assert.match(stderr, /^error: MIC111 \(environments\[0\]\.connections\[0\]\.descripton, line 5[^)]*\): .*did you mean "description"/);
    assert.equal(stdout, '');
  });

  it('as a command (scripts/try.js), from the folder the user typed it in: the typo gives MIC111 and exit code 1', () => {
    const file = write('typo-command.yml', typo);
    const child = spawnSync(process.execPath, [join(repoRoot, 'build', 'scripts', 'try.js'), file], { cwd: repoRoot, env: { ...process.env, INIT_CWD: scratch }, encoding: 'utf8' });
    assert.equal(child.status, 1, child.stderr);
    assert.match(child.stderr, /^error: MIC111/m);
    assert.equal(child.stdout, '');
  });

  it('refuses a privileged role the way the real run would: MIC301 before anything, MIC304 on the least-rights bootstrap when allowed, naming the right', async () => {
    const ownerSpec = write(
      'owner.yml',
      `
defaults: { subscriptionId: ${SUB}, identityResourceGroup: rg-identities, location: westeurope }
environments:
  - name: dev
    connections: [{ name: app-dev }]
    roles:
      - { role: Reader, scope: /subscriptions/${SUB} }
      - { role: Owner, scope: /subscriptions/${SUB}/resourceGroups/rg-app-dev }
`,
    );
    const refused = await rehearse(ownerSpec);
    assert.equal(refused.outcome.emulatorStarted, false);
    assert.match(refused.stderr, /MIC301/);

    const { outcome, stdout } = await rehearse(ownerSpec, { allowPrivilegedRoles: true });
    assert.equal(outcome.exitCode, 1);
    const provision = outcome.steps.find((step) => step.step === 'provision')!;
    assert.equal(provision.run.result, 'Failed');
    assert.ok(provision.run.errors.some((error) => error.startsWith('MIC304') && error.includes('Microsoft.Authorization/roleAssignments/write')), provision.run.errors.join('\n'));
    assert.match(stdout, /Why the least-rights bootstrap of docs\/permissions\.md cannot do this:\n {2}- dev: role Owner on \/subscriptions\/.*\/rg-app-dev: Owner is privileged/);
    assert.ok(!outcome.steps.some((step) => step.step === 'verify'), 'stops at the failing step');
  });

  it('fails a connection to a subscription the least-rights bootstrap cannot read with MIC307, and names the right', async () => {
    const { outcome, stdout } = await rehearse(
      write(
        'unreadable.yml',
        `
defaults: { subscriptionId: ${SUB}, identityResourceGroup: rg-identities, location: westeurope }
environments:
  - name: dev
    connections: [{ name: app-dev }, { name: app-hub, subscriptionId: 33333333-3333-4333-8333-333333333333 }]
    roles: [{ role: Reader, scope: /subscriptions/${SUB} }]
`,
      ),
    );
    assert.equal(outcome.exitCode, 1);
    assert.deepEqual(outcome.steps.map((step) => [step.step, step.run.result]), [['plan', 'Failed']]);
    assert.ok(outcome.steps[0]!.run.errors.some((error) => error.startsWith('MIC307')), outcome.steps[0]!.run.errors.join('\n'));
    assert.match(stdout, /connection app-hub: subscription 33333333-3333-4333-8333-333333333333 holds neither an identity resource group nor a role scope of the spec.*grant it a role there/);
    assert.match(stdout, /What the real run needs/);
  });

  it('--legacy-issuer, --latency-profile and --keep: the connections get the Azure DevOps issuer, the profile\'s rules are in force, and the kept emulator answers at the JSON line printed', async () => {
    let state: WorldState | undefined;
    const stdout = new Captured();
    const outcome = await trySpec(options(join(repoRoot, 'samples', 'environments.yml'), { legacyIssuer: true, keep: true, latencyProfile: 'uniform' }), {
      stdout,
      stderr: new Captured(),
      ca: testCertificateAuthority(),
      untilStopped: async () => {
        const line = JSON.parse(stdout.text.split('\n').find((text) => text.startsWith('{"proxy"'))!) as { controlUrl: string; organization: { id: string } };
        state = (await (await fetch(new URL('state', line.controlUrl))).json()) as WorldState;
        const faults = (await (await fetch(new URL('faults', line.controlUrl))).json()) as { rules: Array<{ id: string; latencyMs: number; fired: number }> };
        assert.deepEqual(faults.rules.map((rule) => [rule.id, rule.latencyMs]), latencyProfiles.uniform.map((rule) => [rule.id, rule.latencyMs]));
        assert.ok(faults.rules[0]!.fired > 20, 'every request of the four runs was slowed');
        assert.equal(connectionNamed(state, 'app-dev')!.authorization.parameters.workloadIdentityFederationIssuer, `https://vstoken.dev.azure.com/${line.organization.id}`);
      },
    });
    assert.equal(outcome.exitCode, 0, stdout.text.slice(-3000));
    assert.ok(state, 'the emulator was kept running until stopped');
    const credentials = credentialsOf(state, identityNamed(state, 'id-ado-dev')!);
    assert.match(credentials[0]!.properties.issuer, /^https:\/\/vstoken\.dev\.azure\.com\//);
  });

  it('--from-seed runs on a hand-written world, and --propagation-ms makes the task wait out a new credential', async () => {
    const seed = write('seed.json', JSON.stringify(defaultSeed()));
    const { outcome, stdout } = await rehearse(join(repoRoot, 'samples', 'environments.yml'), { fromSeed: seed, propagationMs: 1500 });
    assert.equal(outcome.exitCode, 0, stdout.slice(-3000));
    assert.equal(outcome.world, undefined);
    assert.match(stdout, /world {10}from seed\.json/);
    assert.doesNotMatch(stdout, /What the real run needs/);
    // The propagation delay is the emulator's: the first TestConnection of a new credential fails and is retried.
    const provision = outcome.steps.find((step) => step.step === 'provision')!;
    assert.ok(provision.run.durationMs >= 1500, `provision took ${provision.run.durationMs} ms`);
  });

  it('refuses a --from-seed file that is no seed, or a world without a bootstrap connection, with MIC130', async () => {
    const broken = await rehearse(join(repoRoot, 'samples', 'environments.yml'), { fromSeed: write('broken-seed.json', '{ "azure": ') });
    assert.deepEqual([broken.outcome.exitCode, broken.outcome.emulatorStarted], [1, false]);
    assert.match(broken.stderr, /^error: MIC130 \(--from-seed\): The seed broken-seed\.json cannot be read: .*not valid JSON/);
    const azureOnly = await rehearse(join(repoRoot, 'samples', 'environments.yml'), { fromSeed: write('azure-only-seed.json', JSON.stringify({ azure: defaultSeed().azure })) });
    assert.deepEqual([azureOnly.outcome.exitCode, azureOnly.outcome.steps.length], [1, 0]);
    assert.match(azureOnly.stderr, /^error: MIC130 \(--from-seed\): The world has no bootstrap connection and job/);
  });

  it('says so when there is no bundled task to run (npm run cli compiles without bundling)', async () => {
    const { outcome, stderr } = await rehearse(join(repoRoot, 'samples', 'environments.yml'), { taskFile: join(scratch, 'no-such-index.js') });
    assert.deepEqual([outcome.exitCode, outcome.emulatorStarted], [1, false]);
    assert.match(stderr, /^error: MIC132: There is no bundled task at /);
  });

  it('answers a bad option with its code and exit code 2, and --help with the usage', async () => {
    const stderr = new Captured();
    const stdout = new Captured();
    assert.equal(await runTryCommand(['samples/environments.yml', '--latency-profile', 'fast'], { stdout, stderr, cwd: repoRoot }), 2);
    assert.match(stderr.text, /MIC102 \(--latency-profile\): --latency-profile "fast" is not a profile; use one of none, uniform, mid/);
    assert.equal(await runTryCommand(['--keeep'], { stdout, stderr, cwd: repoRoot }), 2);
    assert.match(stderr.text, /did you mean --keep\?/);
    assert.equal(await runTryCommand([], { stdout, stderr, cwd: repoRoot }), 2);
    assert.match(stderr.text, /MIC101 \(FILE\)/);
    assert.equal(await runTryCommand(['--help'], { stdout, stderr, cwd: repoRoot }), 0);
    assert.match(stdout.text, /^Usage: npm run try -- FILE/);
  });

  describe('the CLI', () => {
    it('try is a subcommand: the same rehearsal', async () => {
      const stdout = new Captured();
      const stderr = new Captured();
      assert.equal(await runCli(['try', write('typo-cli.yml', typo)], { stdout, stderr, env: {}, cwd: scratch }), 1);
      assert.match(stderr.text, /^error: MIC111/);
      assert.equal(await runCli(['try', '--help'], { stdout, stderr, env: {}, cwd: scratch }), 0);
      assert.match(stdout.text, /managed-identity-connections try FILE/);
    });

    it('plan checks the spec before signing in: a typo is MIC111, not a failed sign-in', async () => {
      const stdout = new Captured();
      const stderr = new Captured();
      // No az login, no PAT: any sign-in would fail (MIC603 / MIC408).
      const code = await runCli(['plan', '--environments-file', write('typo-plan.yml', typo), '--organization', 'contoso', '--project', 'Platform'], { stdout, stderr, env: {}, cwd: scratch });
      assert.equal(code, 1);
      assert.match(stderr.text, /^error: MIC111/);
      assert.doesNotMatch(stderr.text + stdout.text, /MIC408|MIC603/);
    });
  });
});
