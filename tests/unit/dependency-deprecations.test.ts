// Protects dependency-deprecations.ts: the bundled task drops exactly the deprecation warnings Node prints only
// for code outside node_modules (DEP0169, url.parse() in azure-devops-node-api), in every form emitWarning takes,
// and passes every other warning on unchanged.
import * as assert from 'node:assert/strict';
import { silenceDependencyDeprecations } from '../../tasks/ManagedIdentityConnections/src/adapters/dependency-deprecations';

function fakeProcess() {
  const emitted: unknown[][] = [];
  const target = {
    emitWarning: ((...args: unknown[]) => void emitted.push(args)) as NodeJS.Process['emitWarning'],
  };
  return { target, emitted };
}

describe('silenceDependencyDeprecations', () => {
  it('drops DEP0169 however it is emitted', () => {
    const { target, emitted } = fakeProcess();
    silenceDependencyDeprecations(target);
    // The form Node 24's url.parse() uses (lib/url.js), the options form, and an Error carrying the code.
    target.emitWarning('`url.parse()` behavior is not standardized…', 'DeprecationWarning', 'DEP0169');
    target.emitWarning('`url.parse()` behavior is not standardized…', { type: 'DeprecationWarning', code: 'DEP0169' });
    target.emitWarning(Object.assign(new Error('`url.parse()` behavior…'), { name: 'DeprecationWarning', code: 'DEP0169' }));
    assert.deepEqual(emitted, []);
  });

  it('passes every other warning on with its arguments, once wrapped however often it is called', () => {
    const { target, emitted } = fakeProcess();
    silenceDependencyDeprecations(target);
    const wrapped = target.emitWarning;
    silenceDependencyDeprecations(target);
    assert.equal(target.emitWarning, wrapped, 'not wrapped twice');
    target.emitWarning('Buffer() is deprecated', 'DeprecationWarning', 'DEP0005');
    target.emitWarning('Possible EventTarget memory leak detected.', 'MaxListenersExceededWarning');
    target.emitWarning('something', { type: 'ExperimentalWarning', detail: 'more' });
    assert.deepEqual(emitted, [
      ['Buffer() is deprecated', 'DeprecationWarning', 'DEP0005'],
      ['Possible EventTarget memory leak detected.', 'MaxListenersExceededWarning'],
      ['something', { type: 'ExperimentalWarning', detail: 'more' }],
    ]);
  });
});
