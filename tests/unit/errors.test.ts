// Error codes are public: users search for them and docs/troubleshooting.md explains each. This suite keeps the
// catalog well-formed (codes in their area, a remediation for each), the troubleshooting table complete in both
// directions, and the translation of Azure DevOps verification messages to the most specific code.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyVerificationFailure, errorCatalog, isTaskError, problem, TaskError, toTaskError } from '../../tasks/ManagedIdentityConnections/src/errors';

describe('error catalog', () => {
  it('uses MICnnn codes, each with a title and a remediation', () => {
    for (const [code, entry] of Object.entries(errorCatalog)) {
      assert.match(code, /^MIC[1-69]\d\d$/);
      assert.ok(entry.title.length > 0 && entry.remediation.length > 10, code);
    }
  });

  it('is documented in docs/troubleshooting.md, and the table lists no code that does not exist', () => {
    const markdown = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'troubleshooting.md'), 'utf8');
    const documented = new Set([...markdown.matchAll(/^\| (MIC\d{3}) \|/gm)].map((match) => match[1]));
    assert.deepEqual([...documented].sort(), Object.keys(errorCatalog).sort());
  });

  it('maps Entra codes in a verification message to the most specific code', () => {
    assert.equal(classifyVerificationFailure('AADSTS7002138: matches with case-insensitive comparison'), 'MIC505');
    assert.equal(classifyVerificationFailure('Error AADSTS700213: subject mismatch'), 'MIC505');
    assert.equal(classifyVerificationFailure('AADSTS700211: No matching federated identity record found for presented assertion issuer'), 'MIC504');
    assert.equal(classifyVerificationFailure('AADSTS700024: Client assertion is not within its valid time range'), 'MIC506');
    assert.equal(classifyVerificationFailure('AADSTS70021: No matching federated identity record found'), 'MIC503');
    assert.equal(classifyVerificationFailure('AuthorizationFailed'), 'MIC501');
  });
});

describe('TaskError', () => {
  it('fills the remediation from the catalog and keeps location and cause', () => {
    const cause = new Error('inner');
    const error = new TaskError('MIC118', 'bad scope', { field: 'environments[0].roles[0].scope', line: 7, cause });
    assert.equal(error.remediation, errorCatalog.MIC118.remediation);
    assert.deepEqual([error.field, error.line, error.cause], ['environments[0].roles[0].scope', 7, cause]);
    assert.ok(isTaskError(error));
  });

  it('aggregates many problems under MIC100, but keeps a single problem as itself', () => {
    const one = problem('MIC115', 'not a GUID', { field: 'defaults.subscriptionId' });
    assert.equal(TaskError.aggregate([one], 'x').code, 'MIC115');
    const many = TaskError.aggregate([one, problem('MIC116', 'twice')], '2 problems');
    assert.deepEqual([many.code, many.problems.length], ['MIC100', 2]);
  });

  it('wraps anything thrown, passing typed errors through', () => {
    const typed = new TaskError('MIC304', 'no');
    assert.equal(toTaskError(typed), typed);
    assert.deepEqual([toTaskError(new Error('boom')).code, toTaskError('text', 'MIC604').code], ['MIC901', 'MIC604']);
  });
});
