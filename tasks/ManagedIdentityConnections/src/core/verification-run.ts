// The verification run: after a successful provision, queue the pipeline running the task again, on the same
// branch, with verificationRunParameters — and, if asked, wait for it. Azure Pipelines resolves service
// connection names when it compiles a run, so a connection created by this run can only be used by a later
// one; the queued run is where the new connections are proven in a real job.
//
// The plan has already authorized this pipeline on every connection (PlanSettings.verificationRunPipelineId),
// because Azure Pipelines refuses to start a run that names a connection its pipeline may not use. What is
// left here is queuing, publishing the run's id and address, and polling with backoff until the run
// completes or the timeout passes. Clock and sleep are injected, so a 30-minute wait is instant in tests.
import type { VerificationRunSettings } from '../config';
import { TaskError, toTaskError } from '../errors';
import type { Ports } from '../ports';
import type { PipelineRun } from '../ports/devops';
import type { RetryClock } from '../retry';

export type VerificationRunStatus =
  /** Queued, not waited for. */
  | 'queued'
  | 'succeeded'
  | 'failed'
  | 'timedOut'
  /** Not queued, for the reason given: provisioning failed, or there is nothing to verify. */
  | 'notQueued';

export interface VerificationRunOutcome {
  readonly status: VerificationRunStatus;
  readonly pipelineId?: number;
  readonly branch?: string;
  /** The run as last seen. */
  readonly run?: PipelineRun;
  /** For notQueued: why. */
  readonly reason?: string;
  /** For failed and timedOut, and when queuing failed. */
  readonly error?: TaskError;
}

export interface VerificationRunRequest {
  readonly pipelineId: number;
  /** Build.SourceBranch; absent: the pipeline's default branch. */
  readonly branch?: string;
  readonly settings: VerificationRunSettings;
}

export type WaitClock = Pick<RetryClock, 'now' | 'sleep'>;

/** Polling while waiting: a run takes minutes, so start at 10 s and back off to a poll a minute. */
export const pollSchedule = { initialDelayMs: 10_000, maxDelayMs: 60_000 } as const;

export async function queueVerificationRun(ports: Pick<Ports, 'devOps' | 'platform'>, request: VerificationRunRequest, clock: WaitClock): Promise<VerificationRunOutcome> {
  const { platform, devOps } = ports;
  const where = { pipelineId: request.pipelineId, ...(request.branch === undefined ? {} : { branch: request.branch }) };
  // The REST API takes strings; a YAML boolean or number parameter reads its text the same way.
  const templateParameters = Object.fromEntries(Object.entries(request.settings.parameters).map(([name, value]) => [name, String(value)]));
  let run: PipelineRun;
  try {
    run = await devOps.queueRun({ ...where, templateParameters });
  } catch (caught) {
    return { status: 'failed', ...where, error: toTaskError(caught, 'MIC410') };
  }
  platform.setOutput('verificationRunId', String(run.id));
  platform.setOutput('verificationRunUrl', run.url);
  platform.info(`Queued verification run ${run.name} of pipeline ${request.pipelineId}${request.branch ? ` on ${request.branch}` : ''}: ${run.url}`);
  if (!request.settings.wait) return { status: 'queued', ...where, run };
  return { ...where, ...(await waitForRun(ports, run, request.settings.timeoutMinutes, clock)) };
}

async function waitForRun(ports: Pick<Ports, 'devOps' | 'platform'>, queued: PipelineRun, timeoutMinutes: number, clock: WaitClock): Promise<Omit<VerificationRunOutcome, 'pipelineId' | 'branch'>> {
  const deadlineMs = timeoutMinutes * 60_000;
  const started = clock.now();
  let run = queued;
  let delayMs: number = pollSchedule.initialDelayMs;
  while (run.state !== 'completed') {
    const elapsedMs = clock.now() - started;
    if (elapsedMs >= deadlineMs) {
      const error = new TaskError('MIC509', `Verification run ${run.name} did not finish within ${timeoutMinutes} minute${timeoutMinutes === 1 ? '' : 's'}; it is still ${stateText(run)}: ${run.url}`);
      return { status: 'timedOut', run, error };
    }
    // The last wait ends at the deadline, so that a run finishing just in time still counts.
    await clock.sleep(Math.min(delayMs, deadlineMs - elapsedMs));
    delayMs = Math.min(delayMs * 2, pollSchedule.maxDelayMs);
    try {
      run = await ports.devOps.getRun(run.pipelineId, run.id);
    } catch (caught) {
      return { status: 'failed', run, error: toTaskError(caught, 'MIC604') };
    }
    ports.platform.info(`Verification run ${run.name}: ${stateText(run)} (${minutesAndSeconds(clock.now() - started)} of ${timeoutMinutes} min).`);
  }
  if (run.result === 'succeeded') return { status: 'succeeded', run };
  const what = run.result === 'canceled' ? 'was canceled' : run.result === 'failed' ? 'failed' : `ended with result ${run.result ?? 'unknown'}`;
  return { status: 'failed', run, error: new TaskError('MIC508', `Verification run ${run.name} ${what}: ${run.url}`) };
}

function stateText(run: PipelineRun): string {
  switch (run.state) {
    case 'inProgress':
      return 'in progress';
    case 'canceling':
      return 'canceling';
    case 'completed':
      return `completed (${run.result ?? 'unknown'})`;
    default:
      return 'in an unknown state';
  }
}

function minutesAndSeconds(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
