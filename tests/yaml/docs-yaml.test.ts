// Protects the pipeline examples readers copy: every ```yaml block in README.md and docs/ must pass the offline
// pipeline check, so an example never shows an input the task lacks or a key Azure Pipelines rejects.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../manifests/repository';
import { fencedPipelineBlocks, filesUnder, formatProblems, validatePipelineFiles } from './pipeline-yaml';

const markdownFiles = [join(repoRoot, 'README.md'), ...filesUnder(join(repoRoot, 'docs'), ['.md'])];

describe('pipeline YAML in README.md and docs/', function () {
  this.timeout(60_000);

  it('has examples to check (README and the Marketplace overview show the task)', () => {
    for (const file of ['README.md', join('docs', 'overview.md')]) {
      const blocks = fencedPipelineBlocks(readFileSync(join(repoRoot, file), 'utf8'));
      assert.ok(blocks.some((block) => block.text.includes('ManagedIdentityConnections@1')), `${file} shows no pipeline using the task`);
    }
  });

  it('passes the offline pipeline check, block by block', async () => {
    const problems = await validatePipelineFiles(markdownFiles);
    assert.deepEqual(problems, [], formatProblems(problems));
  });
});
