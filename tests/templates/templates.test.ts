// Protects the template pack's structure, which Azure Pipelines only checks when a run is compiled (too
// late for a user): every parameter is typed, internal templates refuse direct use and each caller
// passes the value its guard expects, every `template:` reference resolves and receives parameters of the
// types it declares, the task inputs (the verification run's included) and output variables the YAML uses
// are the task's, with parameters of the inputs' types and the task's defaults, the scripts the steps run
// exist, parse and pass shellcheck where it is installed, and the samples'
// Bicep is the corrected file (audience, clientId output, issuer and subject parameters, whole braces).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  eachMapping,
  effectiveKeys,
  isMapping,
  listFiles,
  readText,
  readYaml,
  repoPath,
  root,
  samplePipelineFiles,
  samplesDir,
  scriptsDir,
  templateFiles,
  templatesDir,
  type YamlValue,
} from './repository-files';

const PARAMETER_TYPES = new Set(['boolean', 'number', 'object', 'string', 'step', 'stepList', 'job', 'jobList', 'deployment', 'deploymentList', 'stage', 'stageList', 'stringList', 'container', 'containerList']);
const RUNTIME_PARAMETER_TYPES = new Set([...PARAMETER_TYPES, 'environment', 'filePath', 'pool', 'secureFile', 'serviceConnection']);
const PUBLIC_TEMPLATES = new Set(['templates/bootstrap.yml']);
const GUARD_KEY = /^\$\{\{\s*'([^']+) is internal - extend templates\/bootstrap\.yml[^']*'\s*\}\}$/;
const TASK = 'ManagedIdentityConnections@1';

interface TaskJson {
  inputs: { name: string; aliases?: string[]; type: string; defaultValue?: string; options?: Record<string, string> }[];
  outputVariables: { name: string }[];
}
const taskJson = JSON.parse(readText(join(root, 'task.json'))) as TaskJson;
const taskInputNames = new Set(taskJson.inputs.flatMap((input) => [input.name, ...(input.aliases ?? [])]));

type Parameter = { name?: unknown; type?: unknown; default?: unknown; values?: unknown };

function parametersOf(document: unknown): Parameter[] {
  if (!isMapping(document) || document.parameters === undefined) return [];
  assert.ok(Array.isArray(document.parameters), 'parameters must be a list (typed parameters), not a mapping (untyped legacy parameters)');
  return document.parameters as Parameter[];
}

/** The top-level list a template contributes (stages, jobs or steps) and its name. */
function body(document: unknown): { kind: string; items: YamlValue[] } | undefined {
  if (!isMapping(document)) return undefined;
  for (const kind of ['stages', 'jobs', 'steps']) {
    const items = document[kind];
    if (Array.isArray(items)) return { kind, items };
  }
  return undefined;
}

/** `${{ if ne(parameters.calledFrom, 'x') }}` / `notIn(parameters.calledFrom, 'a', 'b')` → the accepted callers. */
function guardCallers(condition: string): string[] {
  const match = /^\$\{\{\s*if\s+(ne|notIn)\(\s*parameters\.calledFrom\s*,(.*)\)\s*\}\}$/.exec(condition);
  if (!match) return [];
  return [...match[2].matchAll(/'([^']*)'/g)].map((value) => value[1]);
}

function guardOf(path: string): { callers: string[]; name: string } | undefined {
  const template = body(readYaml(path));
  const first = template?.items[0];
  if (!isMapping(first)) return undefined;
  const [condition, entries] = Object.entries(first)[0] ?? [];
  if (Object.keys(first).length !== 1 || !Array.isArray(entries) || !isMapping(entries[0])) return undefined;
  const [errorKey, errorValue] = Object.entries(entries[0])[0] ?? [];
  const named = GUARD_KEY.exec(errorKey ?? '');
  if (!named || errorValue !== 'error') return undefined;
  return { callers: guardCallers(condition), name: named[1] };
}

/** Every `template:` reference in a file (not `extends`), with the parameters passed to it. */
function templateReferences(document: unknown): { target: string; parameters: Record<string, YamlValue> }[] {
  const references: { target: string; parameters: Record<string, YamlValue> }[] = [];
  eachMapping(document, (mapping) => {
    if (typeof mapping.template === 'string' && !('extends' in mapping)) {
      references.push({ target: mapping.template, parameters: isMapping(mapping.parameters) ? mapping.parameters : {} });
    }
  });
  return references;
}

/** Steps of our task in a file, with their effective input names and the step's `name`. */
function taskSteps(document: unknown): { name?: string; inputs: string[]; inputsMapping: Record<string, YamlValue> }[] {
  const steps: { name?: string; inputs: string[]; inputsMapping: Record<string, YamlValue> }[] = [];
  eachMapping(document, (mapping) => {
    if (mapping.task !== TASK) return;
    const inputs = isMapping(mapping.inputs) ? mapping.inputs : {};
    steps.push({ name: typeof mapping.name === 'string' ? mapping.name : undefined, inputs: effectiveKeys(inputs), inputsMapping: inputs });
  });
  return steps;
}

/** Like effectiveKeys, with the values: entries of `${{ if }}` / `${{ else }}` blocks count as the mapping's own. */
function effectiveEntries(mapping: Record<string, YamlValue>): [string, YamlValue][] {
  const entries: [string, YamlValue][] = [];
  for (const [key, value] of Object.entries(mapping)) {
    if (/^\$\{\{\s*(if|else|elseif)\b/.test(key) && isMapping(value)) entries.push(...effectiveEntries(value));
    else entries.push([key, value]);
  }
  return entries;
}

/** The declared parameter a value is exactly (`${{ parameters.x }}`), or undefined for anything else. */
function parameterReference(value: YamlValue, declared: Map<string, Parameter>): Parameter | undefined {
  const match = typeof value === 'string' ? /^\$\{\{\s*parameters\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(value) : null;
  if (!match) return undefined;
  const parameter = declared.get(match[1]!);
  assert.ok(parameter, `${String(value)} names no declared parameter`);
  return parameter;
}

/** The parameter of `${{ convertToJson(parameters.x) }}`: an object passed to the task as JSON text. */
function convertedParameter(value: YamlValue, declared: Map<string, Parameter>): Parameter | undefined {
  const match = typeof value === 'string' ? /^\$\{\{\s*convertToJson\(\s*parameters\.([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*\}\}$/.exec(value) : null;
  return match ? declared.get(match[1]!) : undefined;
}

describe('template pack structure', () => {
  const templates = templateFiles();

  it('has the public template, the internal stages, jobs and steps, and the scripts', () => {
    const names = templates.map(repoPath);
    for (const expected of ['templates/bootstrap.yml', 'templates/stages/plan.yml', 'templates/stages/provision.yml', 'templates/stages/verify.yml', 'templates/jobs/verify-connection.yml', 'templates/steps/managed-identity-connections.yml', 'templates/steps/smoke-test.yml']) {
      assert.ok(names.includes(expected), `${expected} is missing`);
    }
    for (const path of templates) assert.match(repoPath(path), /^templates\/(?:(?:stages|jobs|steps)\/)?[a-z0-9]+(?:-[a-z0-9]+)*\.yml$/, 'kebab-case file in stages/, jobs/ or steps/');
  });

  for (const path of templates) {
    describe(repoPath(path), () => {
      const document = readYaml(path);

      it('types every parameter, and a default is one of its values', () => {
        const parameters = parametersOf(document);
        assert.ok(parameters.length > 0, 'a template of the pack takes parameters');
        for (const parameter of parameters) {
          assert.equal(typeof parameter.name, 'string', `a parameter without a name: ${JSON.stringify(parameter)}`);
          assert.ok(typeof parameter.type === 'string' && PARAMETER_TYPES.has(parameter.type), `parameter ${String(parameter.name)} has no valid type (${String(parameter.type)})`);
          if (parameter.values !== undefined) {
            assert.ok(Array.isArray(parameter.values) && parameter.values.length > 0, `parameter ${String(parameter.name)}: values must be a non-empty list`);
            if (parameter.default !== undefined) assert.ok((parameter.values as unknown[]).includes(parameter.default), `parameter ${String(parameter.name)}: default ${String(parameter.default)} is not one of its values`);
          }
          if (parameter.type === 'boolean' && parameter.default !== undefined) assert.equal(typeof parameter.default, 'boolean', `parameter ${String(parameter.name)}: a boolean default must be true or false, not a string`);
          if (parameter.type === 'number' && parameter.default !== undefined) assert.equal(typeof parameter.default, 'number', `parameter ${String(parameter.name)}: a number default must be a number`);
        }
      });

      if (PUBLIC_TEMPLATES.has(repoPath(path))) {
        it('is public: no guard', () => assert.equal(guardOf(path), undefined));
      } else {
        it('refuses direct use: its first entry is the calledFrom guard naming this file', () => {
          const guard = guardOf(path);
          assert.ok(guard, `the first entry of ${repoPath(path)} must be the '… is internal - extend templates/bootstrap.yml': error guard`);
          assert.equal(guard.name, repoPath(path), 'the guard message names the file');
          assert.ok(guard.callers.length > 0, 'the guard compares parameters.calledFrom with the accepted callers');
          const calledFrom = parametersOf(document).find((parameter) => parameter.name === 'calledFrom');
          assert.deepEqual(calledFrom && { type: calledFrom.type, default: calledFrom.default }, { type: 'string', default: '' }, 'calledFrom is a string parameter defaulting to empty, so a direct use trips the guard');
        });
      }

      it('references templates that exist, passing only declared parameters, and the calledFrom their guard accepts', () => {
        for (const reference of templateReferences(document)) {
          const target = resolve(dirname(path), reference.target);
          assert.ok(existsSync(target), `${reference.target} does not exist (from ${repoPath(path)})`);
          const declared = new Set(parametersOf(readYaml(target)).map((parameter) => String(parameter.name)));
          for (const key of effectiveKeys(reference.parameters)) assert.ok(declared.has(key), `${repoPath(target)} has no parameter '${key}' (passed from ${repoPath(path)})`);
          for (const parameter of parametersOf(readYaml(target))) {
            if (parameter.default === undefined) assert.ok(effectiveKeys(reference.parameters).includes(String(parameter.name)), `${repoPath(path)} does not pass the required parameter '${String(parameter.name)}' to ${repoPath(target)}`);
          }
          const guard = guardOf(target);
          if (guard) assert.ok(guard.callers.includes(String(reference.parameters.calledFrom)), `${repoPath(path)} passes calledFrom '${String(reference.parameters.calledFrom)}' but ${repoPath(target)} accepts ${guard.callers.join(', ')}`);
        }
      });

      it('passes each template parameter on as a parameter of the same type (and no values the callee refuses)', () => {
        const declared = new Map(parametersOf(document).map((parameter) => [String(parameter.name), parameter]));
        for (const reference of templateReferences(document)) {
          const target = resolve(dirname(path), reference.target);
          const targetParameters = new Map(parametersOf(readYaml(target)).map((parameter) => [String(parameter.name), parameter]));
          for (const [name, value] of effectiveEntries(reference.parameters)) {
            const passed = parameterReference(value, declared);
            const received = targetParameters.get(name);
            if (!passed || !received) continue;
            const where = `${repoPath(path)} passes parameter ${String(passed.name)} (${String(passed.type)}) as ${name} (${String(received.type)}) of ${repoPath(target)}`;
            assert.equal(passed.type, received.type, where);
            if (Array.isArray(received.values)) {
              assert.ok(Array.isArray(passed.values), `${where}: restrict it with values`);
              for (const option of passed.values as unknown[]) assert.ok((received.values as unknown[]).includes(option), `${where}: '${String(option)}' is refused there`);
            }
          }
        }
      });

      it('keeps guard and error messages free of ": " (YAML would split the key)', () => {
        for (const line of readText(path).split('\n')) {
          if (/\$\{\{\s*'.*'\s*\}\}:\s*error/.test(line)) assert.doesNotMatch(line.replace(/\}\}:\s*error\s*$/, ''), /: /, line);
        }
      });
    });
  }

  describe('the task as the YAML uses it', () => {
    const files = [...templates, ...samplePipelineFiles()];

    it('only sets inputs task.json declares', () => {
      let steps = 0;
      for (const path of files) {
        for (const step of taskSteps(readYaml(path))) {
          steps++;
          for (const input of step.inputs) {
            assert.ok(taskInputNames.has(input), `${repoPath(path)}: ${TASK} has no input '${input}'`);
          }
          assert.ok(step.inputs.includes('command') && step.inputs.includes('bootstrapConnection'), `${repoPath(path)}: every step sets command and bootstrapConnection`);
        }
      }
      assert.ok(steps >= 3, `found only ${steps} task steps`);
    });

    it('gives each input a parameter of the input\'s type: booleans for booleans, a pickList only its options', () => {
      let checked = 0;
      for (const path of templates) {
        const declared = new Map(parametersOf(readYaml(path)).map((parameter) => [String(parameter.name), parameter]));
        for (const step of taskSteps(readYaml(path))) {
          for (const [name, value] of effectiveEntries(step.inputsMapping)) {
            const input = taskJson.inputs.find((candidate) => candidate.name === name || candidate.aliases?.includes(name))!;
            const parameter = parameterReference(value, declared);
            if (parameter === undefined) {
              if (input.type === 'boolean' && typeof value !== 'string') assert.equal(typeof value, 'boolean', `${repoPath(path)}: ${name} is a boolean input`);
              continue;
            }
            checked++;
            const where = `${repoPath(path)}: input ${name} gets parameter ${String(parameter.name)}`;
            if (input.type === 'boolean') assert.equal(parameter.type, 'boolean', where);
            else if (input.type === 'pickList') {
              assert.equal(parameter.type, 'string', where);
              assert.ok(Array.isArray(parameter.values), `${where}: restrict it to the input's options with values`);
              for (const option of parameter.values as unknown[]) assert.ok(Object.keys(input.options ?? {}).includes(String(option)), `${where}: '${String(option)}' is not an option of ${name}`);
            } else assert.ok(parameter.type === 'string' || parameter.type === 'number', `${where}: a ${String(parameter.type)} for a ${input.type} input`);
          }
        }
      }
      assert.ok(checked >= 9, `checked only ${checked} inputs`);
    });

    it('lifts the provision job\'s timeout only when the task waits for the verification run (queued and waited for)', () => {
      const path = join(templatesDir, 'stages', 'provision.yml');
      const conditions: string[] = [];
      eachMapping(readYaml(path), (mapping) => {
        for (const [key, value] of Object.entries(mapping)) if (isMapping(value) && 'timeoutInMinutes' in value) conditions.push(key);
      });
      assert.equal(conditions.length, 1, `one conditional timeoutInMinutes in ${repoPath(path)}: ${conditions.join(', ')}`);
      // The step passes waitForVerificationRun only inside `if queueVerificationRun`, so the task waits only then.
      const step = readText(join(templatesDir, 'steps', 'managed-identity-connections.yml'));
      assert.match(step, /\$\{\{ if and\(eq\(parameters\.command, 'provision'\), parameters\.queueVerificationRun\) \}\}:\n(?:\s+\w+: .*\n)*?\s+waitForVerificationRun: \$\{\{ parameters\.waitForVerificationRun \}\}/);
      assert.match(conditions[0]!, /^\$\{\{ if and\(parameters\.queueVerificationRun, parameters\.waitForVerificationRun\) \}\}$/);
    });

    it('runs the plan stage with queueVerificationRun whenever provision queues the verification run, so the plan shows its grant', () => {
      // bootstrap → stages/plan.yml: the same parameter provision gets.
      const bootstrap = templateReferences(readYaml(join(templatesDir, 'bootstrap.yml')));
      const planStage = bootstrap.find((reference) => reference.target === 'stages/plan.yml');
      const provisionStage = bootstrap.find((reference) => reference.target === 'stages/provision.yml');
      assert.equal(planStage?.parameters.queueVerificationRun, '${{ parameters.queueVerificationRun }}');
      assert.equal(provisionStage?.parameters.queueVerificationRun, '${{ parameters.queueVerificationRun }}');
      // stages/plan.yml → the step template, with the same default as provision's.
      const planYaml = readYaml(join(templatesDir, 'stages', 'plan.yml'));
      const declared = parametersOf(planYaml).find((parameter) => parameter.name === 'queueVerificationRun');
      const provisionDeclared = parametersOf(readYaml(join(templatesDir, 'stages', 'provision.yml'))).find((parameter) => parameter.name === 'queueVerificationRun');
      assert.deepEqual([declared?.type, declared?.default], ['boolean', provisionDeclared?.default]);
      const step = templateReferences(planYaml).find((reference) => reference.target === '../steps/managed-identity-connections.yml');
      assert.equal(step?.parameters.command, 'plan');
      assert.equal(step?.parameters.queueVerificationRun, '${{ parameters.queueVerificationRun }}');
      // The step template sets the input for plan too (the task then plans the grant and queues nothing).
      const stepText = readText(join(templatesDir, 'steps', 'managed-identity-connections.yml'));
      assert.match(stepText, /\$\{\{ if and\(in\(parameters\.command, 'plan', 'provision'\), parameters\.queueVerificationRun\) \}\}:\n\s+queueVerificationRun: true\n/);
    });

    it('defaults the step template\'s parameters to the task\'s defaults, so leaving one out means leaving the input out', () => {
      const path = join(templatesDir, 'steps', 'managed-identity-connections.yml');
      const declared = new Map(parametersOf(readYaml(path)).map((parameter) => [String(parameter.name), parameter]));
      let compared = 0;
      for (const [name, value] of effectiveEntries(taskSteps(readYaml(path))[0]!.inputsMapping)) {
        const parameter = parameterReference(value, declared) ?? convertedParameter(value, declared);
        if (parameter?.default === undefined) continue;
        const input = taskJson.inputs.find((candidate) => candidate.name === name || candidate.aliases?.includes(name))!;
        const taskDefault = input.defaultValue ?? '';
        // Inputs the task reads as YAML or JSON (verificationRunParameters) compare as values, the rest as text.
        // An object parameter defaulting to {} (the platform policy) leaves an input without a default out.
        const expected = typeof parameter.default === 'object' ? (taskDefault === '' ? {} : (JSON.parse(taskDefault) as unknown)) : taskDefault;
        const actual = typeof parameter.default === 'object' ? parameter.default : String(parameter.default);
        assert.deepEqual(actual, expected, `parameter ${String(parameter.name)} defaults to ${JSON.stringify(parameter.default)}, input ${name} to ${JSON.stringify(taskDefault)}`);
        compared++;
      }
      assert.ok(compared >= 8, `compared only ${compared} defaults`);
    });

    it('passes the platform policy from the step template\'s own default, which no template can set', () => {
      const path = join(templatesDir, 'steps', 'managed-identity-connections.yml');
      const policy = parametersOf(readYaml(path)).find((parameter) => parameter.name === 'platformPolicy');
      assert.deepEqual(policy && { type: policy.type, default: policy.default }, { type: 'object', default: {} });
      assert.match(readText(path), /\$\{\{ if parameters\.platformPolicy\.rules \}\}:\n\s+policy: \$\{\{ convertToJson\(parameters\.platformPolicy\) \}\}/);
      for (const template of templateFiles()) {
        for (const reference of templateReferences(readYaml(template))) assert.ok(!effectiveKeys(reference.parameters).includes('platformPolicy'), `${repoPath(template)} passes platformPolicy`);
      }
    });

    it('reads only output variables the task declares, from the step named `mic`', () => {
      const declared = new Set(taskJson.outputVariables.map((variable) => variable.name));
      // Per-environment outputs (identityClientId_{environment}) are named by the task's core, not task.json.
      const perEnvironment = /^identityClientId_/;
      let reads = 0;
      for (const path of files) {
        const text = readText(path);
        const taskStepNames = new Set(taskSteps(readYaml(path)).map((step) => step.name).filter((name): name is string => !!name));
        for (const match of text.matchAll(/outputs\['(?:[A-Za-z0-9_]+\.)*([A-Za-z0-9_]+)\.([A-Za-z0-9_]+(?:\$\{\{[^}]*\}\})?)'\]|variables\['([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)'\]|\$\(([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\)/g)) {
          const step = match[1] ?? match[3] ?? match[5];
          const variable = match[2] ?? match[4] ?? match[6];
          if (!taskStepNames.has(step) && step !== 'mic') continue; // another task's output
          reads++;
          assert.ok(declared.has(variable) || perEnvironment.test(variable), `${repoPath(path)} reads ${step}.${variable}, which the task does not set`);
        }
      }
      assert.ok(reads >= 3, `found only ${reads} output variable reads`);
    });

    it('the per-environment client id variable the verify jobs read is the one the task sets', () => {
      const source = readText(join(root, 'tasks', 'ManagedIdentityConnections', 'src', 'core', 'format-run.ts'));
      assert.match(source, /`identityClientId_\$\{/, 'format-run.ts names identityClientId_{environment}');
      assert.match(source, /variableNamePart\(environment\.environment\)/, 'with the environment name made safe');
      const names = readText(join(root, 'tasks', 'ManagedIdentityConnections', 'src', 'core', 'names.ts'));
      // The template turns hyphens into underscores; environment names allow nothing else unsafe.
      assert.match(names, /return name\.replace\(\/\[\^A-Za-z0-9_\]\/g, '_'\)/);
      assert.match(names, /environmentNameRule[\s\S]*?pattern: \/\^\[a-z0-9\]/);
      const job = readText(join(templatesDir, 'jobs', 'verify-connection.yml'));
      assert.match(job, /mic\.identityClientId_\$\{\{ replace\(parameters\.environmentName, '-', '_'\) \}\}/);
    });
  });

  describe('scripts the steps run', () => {
    it('every script a template names exists, is executable and parses with bash -n', () => {
      const named = new Set<string>();
      for (const path of templates) for (const match of readText(path).matchAll(/([a-z0-9-]+\.sh)\b/g)) named.add(match[1]);
      assert.ok(named.has('smoke-test.sh') && named.has('explain-sign-in-failure.sh'), `scripts named: ${[...named].join(', ')}`);
      for (const script of named) {
        const path = join(scriptsDir, script);
        assert.ok(existsSync(path), `${repoPath(path)} is named by a template but missing`);
        accessSync(path, constants.X_OK);
        const check = spawnSync('bash', ['-n', path], { encoding: 'utf8' });
        assert.equal(check.status, 0, `bash -n ${repoPath(path)}: ${check.stderr}`);
        const text = readText(path);
        assert.match(text, /^#!\/usr\/bin\/env bash\n/, 'starts with the bash shebang');
        assert.match(text, /^set -euo pipefail$/m, 'runs with set -euo pipefail');
      }
    });

    it('pass shellcheck (skipped where it is not installed; CI does not install it)', function () {
      if (spawnSync('shellcheck', ['--version'], { encoding: 'utf8' }).status !== 0) this.skip();
      const scripts = listFiles(scriptsDir, ['.sh']);
      assert.ok(scripts.length >= 2, scripts.join(', '));
      const check = spawnSync('shellcheck', ['--shell=bash', '--severity=style', ...scripts], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
    });

    it('the verify jobs take the subscription and resource group from the task\'s environments output, never from the spec (defaults)', () => {
      // A connection may leave subscriptionId to defaults.subscriptionId, which a template cannot apply; the
      // task resolves defaults once and publishes them in `environments`.
      const job = readText(join(templatesDir, 'jobs', 'verify-connection.yml'));
      assert.doesNotMatch(job, /parameters\.connection\.(?!name\b)/, 'the job reads only the connection\'s name from the spec');
      assert.match(job, /environmentsOutput: \$\(micEnvironments\)/);
      const smoke = parametersOf(readYaml(join(templatesDir, 'steps', 'smoke-test.yml')));
      for (const name of ['subscriptionId', 'resourceGroup']) assert.equal(smoke.find((parameter) => parameter.name === name)?.default, '', `${name} is optional`);
      const script = readText(join(scriptsDir, 'smoke-test.sh'));
      assert.match(script, /expected_subscription="\$\(from_output connection subscriptionId\)"/);
      assert.match(script, /expected_resource_group="\$\(from_output connection resourceGroup\)"/);
      const format = readText(join(root, 'tasks', 'ManagedIdentityConnections', 'src', 'core', 'format-run.ts'));
      assert.match(format, /subscriptionId: snapshot\.subscriptionId, resourceGroup: snapshot\.resourceGroup/, 'the task publishes them per connection');
    });

    it('the smoke step passes the script exactly the variables it reads', () => {
      const step = readText(join(templatesDir, 'steps', 'smoke-test.yml'));
      const script = readText(join(scriptsDir, 'smoke-test.sh'));
      const passed = [...step.matchAll(/^\s+(MIC_[A-Z_]+):/gm)].map((match) => match[1]).filter((name) => name !== 'MIC_SCRIPTS');
      assert.ok(passed.length >= 6, passed.join(', '));
      for (const name of passed) assert.match(script, new RegExp(`\\$\\{${name}:-`), `smoke-test.sh does not read ${name}`);
      const explain = readText(join(scriptsDir, 'explain-sign-in-failure.sh'));
      for (const name of ['MIC_CONNECTION', 'MIC_EXPECTED_CLIENT_ID']) assert.match(explain, new RegExp(`\\$\\{${name}:-`));
    });

    it('ship nothing emulator- or test-specific', () => {
      for (const path of [templatesDir, samplesDir]) {
        const hits = spawnSync('grep', ['-rniE', 'emulator|127\\.0\\.0\\.1|localhost|sitecustomize|REQUESTS_CA_BUNDLE', path], { encoding: 'utf8' });
        // The samples may say that environments.yml matches the emulator's world; nothing else may.
        const lines = hits.stdout.split('\n').filter((line) => line && !/samples\/(README\.md|environments\.yml):.*emulator's default world/.test(line));
        assert.deepEqual(lines, []);
      }
    });
  });
});

describe('samples/uai.bicep', () => {
  const text = readText(join(samplesDir, 'uai.bicep'));
  // Comments removed and string contents blanked (Bicep escapes a quote as \'), so braces in them do not count.
  const code = stripBicep(text);
  const strings = stringsOf(text);

  it('balances its braces and brackets', () => {
    let depth = 0;
    assert.ok(strings.length > 5, 'the scanner found the strings');
    const stack: string[] = [];
    for (const char of code) {
      if (char === '{' || char === '[') stack.push(char);
      else if (char === '}' || char === ']') {
        const open = stack.pop();
        assert.equal(open, char === '}' ? '{' : '[', `unbalanced ${char}`);
      }
      depth = Math.max(depth, stack.length);
    }
    assert.deepEqual(stack, [], 'every { and [ is closed');
    assert.ok(depth >= 2, 'the resources have bodies');
  });

  it('declares resource types the scanner kept as strings', () => {
    assert.ok(strings.includes('Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31'));
  });

  it('takes the issuer and subject as parameters and uses them in the federated credential', () => {
    assert.match(code, /^param issuer string$/m);
    assert.match(code, /^param subjectIdentifier string$/m);
    assert.match(code, /issuer: issuer\b/);
    assert.match(code, /subject: subjectIdentifier\b/);
  });

  it('sets the one audience Entra ID accepts for Azure DevOps', () => {
    const audiences = /audiences:\s*\[([^\]]*)\]/.exec(text);
    assert.ok(audiences, 'audiences list');
    assert.deepEqual(audiences[1].trim().split(/\s+/), ["'api://AzureADTokenExchange'"]);
  });

  it('outputs the client id (what the connection needs), not an empty value', () => {
    assert.match(code, /^output clientId string = userAssignedIdentity\.properties\.clientId$/m);
    assert.match(code, /^output principalId string = userAssignedIdentity\.properties\.principalId$/m);
    assert.match(code, /^output tenantId string = /m);
  });

  it('uses the federated credential resource as a child of the identity', () => {
    assert.match(code, /^resource federation '' = \{$/m);
    assert.ok(strings.some((value) => /^Microsoft\.ManagedIdentity\/userAssignedIdentities\/federatedIdentityCredentials@\d{4}-\d{2}-\d{2}$/.test(value)), 'a stable API version');
    assert.match(code, /parent: userAssignedIdentity/);
  });
});

describe('runtime parameters of the sample pipelines', () => {
  for (const path of samplePipelineFiles()) {
    it(`${repoPath(path)}: typed, and extends pipelines declare the mode the verification run sets`, () => {
      const document = readYaml(path);
      for (const parameter of parametersOf(document)) {
        assert.ok(typeof parameter.type === 'string' && RUNTIME_PARAMETER_TYPES.has(parameter.type), `parameter ${String(parameter.name)} is untyped`);
        // A runtime string parameter with an empty default cannot be left as is when queuing a run.
        if (parameter.type === 'string') assert.notEqual(parameter.default, '', `parameter ${String(parameter.name)}: an empty default makes it required when queuing`);
      }
      if (isMapping(document) && isMapping(document.extends)) {
        const passed = isMapping(document.extends.parameters) ? document.extends.parameters : {};
        if (passed.mode !== 'plan') {
          const mode = parametersOf(document).find((parameter) => parameter.name === 'mode');
          assert.ok(mode, 'a pipeline that provisions needs a runtime parameter `mode`: the verification run is queued with mode: verify');
          assert.deepEqual(mode.values, ['plan', 'provision', 'verify']);
          assert.equal(passed.mode, '${{ parameters.mode }}');
        }
      }
    });
  }
});

/** Bicep source with `//` and block comments removed and every string literal emptied to ''. */
function stripBicep(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '/' && source[i + 1] === '/') {
      while (i < source.length && source[i] !== '\n') i++;
      out += '\n';
    } else if (char === '/' && source[i + 1] === '*') {
      i = source.indexOf('*/', i + 2) + 1;
    } else if (char === "'") {
      for (i++; i < source.length && source[i] !== "'"; i++) if (source[i] === '\\') i++;
      out += "''";
    } else out += char;
  }
  return out;
}

function stringsOf(source: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < source.length; i++) {
    if (source[i] === '/' && source[i + 1] === '/') while (i < source.length && source[i] !== '\n') i++;
    else if (source[i] === "'") {
      let value = '';
      for (i++; i < source.length && source[i] !== "'"; i++) value += source[i] === '\\' ? source[++i] : source[i];
      found.push(value);
    }
  }
  return found;
}
