// Protects the pieces that model the agent around the task (docs/architecture.md, "What the agent does"):
// the proxy decision per URL with the agent's bypass list, the extra certificate authority, the neutralization
// of logging commands in printed text, and the task's lifetime (cancel on the result or on the agent's signals,
// then leave). That every client, Azure DevOps included, goes through the proxy and trusts the authority is
// tests/e2e/agent-behaviour.test.ts's part.
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { proxyFor, trustedAuthorities } from '../../tasks/ManagedIdentityConnections/src/adapters/agent-network';
import { EXIT_GRACE_MS, TaskLifetime } from '../../tasks/ManagedIdentityConnections/src/adapters/task-lifetime';
import type { AgentNetwork } from '../../tasks/ManagedIdentityConnections/src/config';
import { neutralizeLoggingCommands } from '../../tasks/ManagedIdentityConnections/src/core/redact';
import { isTaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { Secret } from '../../tasks/ManagedIdentityConnections/src/secret';

const network: AgentNetwork = {
  proxy: { url: 'http://proxy.contoso.com:8080', username: 'agent', password: new Secret('p@ss'), bypass: ['\\.internal\\.contoso\\.com', '^https://127\\.0\\.0\\.1'] },
};

describe('the agent\'s proxy', () => {
  it('applies to every URL the bypass list does not match (case-insensitively, anywhere in the URL)', () => {
    assert.equal(proxyFor(network, 'https://management.azure.com/subscriptions')?.host, 'proxy.contoso.com:8080');
    assert.equal(proxyFor(network, 'https://ado.INTERNAL.contoso.com/org/'), undefined);
    assert.equal(proxyFor(network, 'https://127.0.0.1:8443/x'), undefined);
    assert.equal(proxyFor({}, 'https://management.azure.com/'), undefined);
  });

  it('carries the agent\'s proxy credentials, URL-encoded', () => {
    const proxy = proxyFor(network, 'https://login.microsoftonline.com/')!;
    assert.equal(proxy.username, 'agent');
    assert.equal(decodeURIComponent(proxy.password), 'p@ss');
  });
});

describe('the agent\'s certificate authority', () => {
  const folder = mkdtempSync(join(tmpdir(), 'mic-ca-test-'));
  const caFile = join(folder, 'corporate.pem');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIcorporate\n-----END CERTIFICATE-----\n');

  it('is trusted next to Node\'s own roots, which a `ca` option would otherwise replace', () => {
    const authorities = trustedAuthorities({ caFile })!;
    assert.equal(authorities.length, rootCertificates.length + 1);
    assert.match(authorities.at(-1)!, /MIIcorporate/);
    assert.equal(trustedAuthorities({}), undefined);
  });

  it('is MIC605 when the file cannot be read', () => {
    assert.throws(() => trustedAuthorities({ caFile: join(folder, 'missing.pem') }), (error) => isTaskError(error) && error.code === 'MIC605' && /Agent\.CAInfo/.test(error.message));
  });
});

describe('neutralizeLoggingCommands', () => {
  it('breaks ##vso[ and ##[ anywhere, so the agent finds no command, and keeps the text readable', () => {
    const text = neutralizeLoggingCommands('role ##vso[task.setvariable variable=x]1 and ##[error]no ###vso[ ##VSO[');
    assert.ok(!/##vso\[|##\[/i.test(text), text);
    assert.equal(text.replace(/\u200b/g, ''), 'role ##vso[task.setvariable variable=x]1 and ##[error]no ###vso[ ##VSO[');
  });

  it('removes ANSI escapes and shows CR and other control characters as U+FFFD; LF and TAB stay', () => {
    assert.equal(neutralizeLoggingCommands('a\u001b[31mred\u001b[0m\u001b]0;title\u0007 b\rc\u0000d\ne\tf'), 'ared b\ufffdc\ufffdd\ne\tf');
  });

  it('leaves ordinary text alone', () => {
    const text = '[dev] done: assign Reader on /subscriptions/x to identity id-ado-dev — #1 [ok]';
    assert.equal(neutralizeLoggingCommands(text), text);
  });
});

describe('TaskLifetime', () => {
  function fakeProcess() {
    const handlers = new Map<string, () => void>();
    return { once: (name: string, handler: () => void) => handlers.set(name, handler), handlers };
  }

  it('cancels the run with MIC606 when the agent sends SIGINT or SIGTERM', () => {
    for (const name of ['SIGINT', 'SIGTERM']) {
      const process = fakeProcess();
      const lifetime = new TaskLifetime(process as never);
      process.handlers.get(name)!();
      assert.ok(lifetime.signal.aborted);
      assert.ok(isTaskError(lifetime.signal.reason) && lifetime.signal.reason.code === 'MIC606' && lifetime.signal.reason.message.includes(name));
    }
  });

  it('at the end cancels what still runs and exits after the grace period, even if something lingers', async () => {
    const lifetime = new TaskLifetime(fakeProcess() as never);
    let exited = false;
    const sleeping = lifetime.clock.sleep(60_000);
    lifetime.end(() => (exited = true));
    await assert.rejects(sleeping, (error) => isTaskError(error) && error.code === 'MIC606');
    assert.equal(exited, false);
    await new Promise((resolve) => setTimeout(resolve, EXIT_GRACE_MS + 100));
    assert.equal(exited, true);
  });
});
