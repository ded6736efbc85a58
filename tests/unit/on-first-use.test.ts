// A port built on first use: nothing is built before the first call, it is built once however many calls
// arrive together, every call reaches the real method with its arguments, and a failed build is tried again.
import * as assert from 'node:assert/strict';
import { builtOnFirstUse } from '../../tasks/ManagedIdentityConnections/src/adapters/on-first-use';

interface Greeter {
  greet(name: string): Promise<string>;
  count(): Promise<number>;
}

class RealGreeter implements Greeter {
  private calls = 0;
  constructor(private readonly prefix: string) {}
  async greet(name: string): Promise<string> {
    this.calls++;
    return `${this.prefix} ${name}`;
  }
  async count(): Promise<number> {
    return this.calls;
  }
}

describe('a port built on first use', () => {
  it('GIVEN no call yet THEN nothing is built', () => {
    let builds = 0;
    builtOnFirstUse<Greeter>(async () => (builds++, new RealGreeter('hello')), { greet: true, count: true });
    assert.equal(builds, 0);
  });

  it('GIVEN calls that arrive together THEN the port is built once and each call reaches it with its arguments', async () => {
    let builds = 0;
    const greeter = builtOnFirstUse<Greeter>(async () => (builds++, new RealGreeter('hello')), { greet: true, count: true });
    const answers = await Promise.all([greeter.greet('a'), greeter.greet('b'), greeter.greet('c')]);
    assert.deepEqual(answers, ['hello a', 'hello b', 'hello c']);
    assert.equal(builds, 1);
    assert.equal(await greeter.count(), 3, 'the methods run on the one real instance');
  });

  it('GIVEN a build that fails THEN the call fails with its error and the next call builds again', async () => {
    let builds = 0;
    const greeter = builtOnFirstUse<Greeter>(
      async () => {
        builds++;
        if (builds === 1) throw new Error('token refused');
        return new RealGreeter('hi');
      },
      { greet: true, count: true },
    );
    await assert.rejects(greeter.greet('a'), /token refused/);
    assert.equal(await greeter.greet('b'), 'hi b');
    assert.equal(builds, 2);
  });
});
