// The two little languages of endpoint data sources, reduced to what the azurerm type's data sources use:
// URL templates (`{{{endpoint.url}}}subscriptions/{{{endpoint.subscriptionId}}}`, with one `#equals` block)
// and result selectors (`jsonpath:$`, `jsonpath:$.value[*]`, `jsonpath:$.value[*].name`).

export interface TemplateValues {
  /** `endpoint.url`, data and authorization parameters (looked up ignoring case). */
  endpoint: Record<string, string>;
  /** `dataSourceDetails.parameters` of the request. */
  parameters: Record<string, string>;
}

function lookup(values: TemplateValues, expression: string): string {
  const [scope, ...rest] = expression.trim().split('.');
  const fromEndpoint = scope === 'endpoint' && rest.length > 0;
  const source = fromEndpoint ? values.endpoint : values.parameters;
  const name = (fromEndpoint ? rest.join('.') : expression.trim()).toLowerCase();
  const key = Object.keys(source).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? '' : source[key];
}

const EQUALS_BLOCK = /\{\{#equals\s+([^\s}]+)\s+'([^']*)'\s*\}\}([\s\S]*?)(?:\{\{else\}\}([\s\S]*?))?\{\{\/equals\}\}/g;
const VALUE = /\{\{\{?\s*([^#/{}\s][^{}]*?)\s*\}?\}\}/g;

export function renderTemplate(template: string, values: TemplateValues): string {
  const withBlocks = template.replace(EQUALS_BLOCK, (_all, expression: string, expected: string, whenEqual: string, otherwise: string | undefined) =>
    lookup(values, expression).toLowerCase() === expected.toLowerCase() ? whenEqual : otherwise ?? '',
  );
  return withBlocks.replace(VALUE, (_all, expression: string) => lookup(values, expression));
}

/** Applies a `jsonpath:` selector; answers the selected values as the service does: strings, objects as JSON. */
export function selectResult(selector: string, document: unknown): string[] {
  const path = selector.replace(/^jsonpath:/i, '').trim();
  if (!path.startsWith('$')) throw new Error(`unsupported result selector ${selector}`);
  let current: unknown[] = [document];
  for (const segment of path.slice(1).split('.').filter((part) => part !== '')) {
    const match = /^([^[\]]+)(\[\*\])?$/.exec(segment);
    if (!match) throw new Error(`unsupported result selector segment ${segment}`);
    const next: unknown[] = [];
    for (const item of current) {
      const value = typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[match[1]] : undefined;
      if (value === undefined) continue;
      if (match[2]) {
        if (Array.isArray(value)) next.push(...value);
      } else next.push(value);
    }
    current = next;
  }
  return current.map((value) => (typeof value === 'string' ? value : JSON.stringify(value)));
}
