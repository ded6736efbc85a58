// `npm run try -- FILE [options]`: rehearse an environments spec on the offline emulator (scripts/lib/try-spec.ts).
// npm runs scripts in the package's folder; INIT_CWD is where the user typed the command, so FILE is read from there.
import { runTryCommand } from './lib/try-spec';

void runTryCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.env.INIT_CWD ?? process.cwd() }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack ?? error.message : String(error));
    process.exitCode = 1;
  },
);
