// Calls added within one window share a batch; each settles with its own outcome; a batch that fails as a
// whole fails every item in it; the next call after a batch opens a new window.
import * as assert from 'node:assert/strict';
import { MicroBatcher } from '../../tasks/ManagedIdentityConnections/src/adapters/micro-batch';

describe('the micro-batcher', () => {
  it('sends items added within the window as one batch, and the next ones as another', async () => {
    const batches: string[][] = [];
    const batcher = new MicroBatcher<string>(async (items) => {
      batches.push([...items]);
      return items.map(() => ({ status: 'fulfilled' as const, value: undefined }));
    }, 5);
    await Promise.all([batcher.add('a'), batcher.add('b'), batcher.add('c')]);
    await batcher.add('d');
    assert.deepEqual(batches, [['a', 'b', 'c'], ['d']]);
  });

  it('settles each item with its own outcome', async () => {
    const batcher = new MicroBatcher<string>(async (items) => items.map((item) => (item === 'bad' ? { status: 'rejected' as const, reason: new Error(`refused ${item}`) } : { status: 'fulfilled' as const, value: undefined })), 1);
    const outcomes = await Promise.allSettled([batcher.add('good'), batcher.add('bad')]);
    assert.equal(outcomes[0].status, 'fulfilled');
    assert.equal(outcomes[1].status, 'rejected');
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.message, 'refused bad');
  });

  it('fails every item of a batch whose sending fails, and one that reports no outcome for an item', async () => {
    const failing = new MicroBatcher<string>(() => Promise.reject(new Error('network down')), 1);
    const outcomes = await Promise.allSettled([failing.add('a'), failing.add('b')]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status === 'rejected' && (outcome.reason as Error).message), ['network down', 'network down']);

    const forgetful = new MicroBatcher<string>(async () => [], 1);
    await assert.rejects(forgetful.add('a'), /no outcome/);
  });
});
