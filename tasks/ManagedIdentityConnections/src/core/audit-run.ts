// The audit command: observe the project's Azure Resource Manager connections, turn them into rows, publish
// them (summary table, audit.json, audit.csv, output variables), and fail only on the auditFailOn rules.
import type { TaskConfig } from '../config';
import { TaskError } from '../errors';
import type { Ports } from '../ports';
import { auditCsv, auditFailures, auditJson, auditMarkdown, auditRows, observeAudit } from './audit';
import type { Plan } from './model';
import type { RunResult } from './run';

export async function runAudit(config: TaskConfig, ports: Ports, specPlan: Plan | undefined): Promise<RunResult> {
  const { platform } = ports;
  const settings = config.audit ?? { failOn: [], scope: 'project', outputDirectory: '.' };
  const where = settings.scope === 'organization' ? 'every project this identity can read' : `project ${config.pipeline.project.name}`;
  platform.info(`Auditing the Azure Resource Manager connections of ${where}${specPlan ? ', with drift against the spec' : ''}…`);
  const reach = { scope: settings.scope, project: config.pipeline.project, unreadable: [] as string[] };
  const rows = auditRows(await observeAudit(ports, config.concurrency, reach), specPlan);
  // A project whose connections this identity may not list is left out, and said so: the inventory is partial.
  for (const project of reach.unreadable) platform.warn(`The audit could not list the connections of project ${project}; they are not in the inventory.`);
  const failures = auditFailures(rows, settings);
  for (const row of rows) platform.info(`${row.name}: ${row.scheme}; issuer ${row.issuer}; ${row.identity}; credentials ${row.credentials}; last used ${row.lastUsed}; ${row.owned ? 'managed by this tool' : 'not managed by this tool'}; ${row.drift}`);
  const separator = settings.outputDirectory.endsWith('/') || settings.outputDirectory.endsWith('\\') ? '' : '/';
  let written: { json: string; csv: string };
  try {
    written = {
      json: await platform.writeTextFile(`${settings.outputDirectory}${separator}audit.json`, auditJson(rows)),
      csv: await platform.writeTextFile(`${settings.outputDirectory}${separator}audit.csv`, auditCsv(rows)),
    };
  } catch (caught) {
    const error = new TaskError('MIC433', `The audit files cannot be written to ${settings.outputDirectory}: ${caught instanceof Error ? caught.message : String(caught)}`, { field: 'auditOutputDirectory', cause: caught });
    return { status: 'failed', message: `${error.code}: ${error.message}`, errors: [error], warnings: [] };
  }
  platform.setOutput('auditConnections', String(rows.length));
  platform.setOutput('auditJsonFile', written.json);
  platform.setOutput('auditCsvFile', written.csv);
  platform.uploadSummary(auditMarkdown(rows, failures));
  if (failures.length > 0) {
    const error = TaskError.aggregate(failures, `The audit matched ${failures.length} of the auditFailOn rules.`);
    return { status: 'failed', message: `${error.code}: ${failures.length === 1 ? failures[0]!.message : error.message}`, errors: [error], warnings: [] };
  }
  return { status: 'succeeded', message: `Audit: ${rows.length} connection${rows.length === 1 ? '' : 's'}; written to ${written.json} and ${written.csv}.`, errors: [], warnings: [] };
}
