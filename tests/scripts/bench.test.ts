// Protects the `npm run bench -- --json` line, a public interface (docs/performance.md, "Method"): one run of the
// `uniform` group, as a user would start it, prints one JSON line with every key it ever had — and the ones added
// since — with figures that describe the runs (the rerun writes nothing, one HTTP/2 connection per run, the
// marginal CPU of the 50-environment run at the top), and names the Node the task ran on.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { taskNode } from '../../scripts/lib/run-task';

const bench = join(__dirname, '..', '..', 'scripts', 'bench.js');

describe('npm run bench -- --json', function () {
  this.timeout(180_000);

  it('prints one JSON line with the documented keys, for the uniform group', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [bench, '--scenarios', 'uniform', '--repeat', '1', '--json'], { maxBuffer: 1 << 20 }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
      ),
    );
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'only the JSON line with --json');
    const summary = JSON.parse(lines[0]!) as Record<string, unknown> & { runs: Record<string, unknown>[] };
    for (const key of ['runs', 'rerunWrites', 'bundleBytes', 'startupMs', 'latencyMs', 'repeat', 'cpuMsPerEnvironment', 'loadAverage', 'peer', 'calls', 'emulatorHttp2', 'taskNodeVersion']) {
      assert.ok(key in summary, `the JSON line has ${key}`);
    }
    assert.deepEqual(summary.runs.map((run) => run.environments), [1, 10, 50, 1]);
    for (const run of summary.runs) {
      for (const key of ['environments', 'wallMs', 'boundMs', 'ratio', 'reads', 'writes', 'startupMs', 'totalMs', 'rerunWrites', 'httpsFloor', 'name', 'profile', 'requests', 'throttled', 'throttledShare', 'cpuMs', 'cpuMsPerEnvironment', 'peakRssMb', 'tlsConnections', 'http2Connections', 'stdoutBytes', 'propagationOvershootMs', 'rerunWallMs']) {
        assert.ok(key in run, `run ${String(run.name)} has ${key}`);
      }
      assert.equal(run.rerunWrites, 0);
      assert.equal(run.http2Connections, 1);
    }
    assert.equal(summary.cpuMsPerEnvironment, summary.runs[2]!.cpuMsPerEnvironment);
    assert.equal(summary.taskNodeVersion, execFileSync(taskNode(), ['--version'], { encoding: 'utf8' }).trim());
  });
});
