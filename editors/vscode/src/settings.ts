// Maps the extension's `keras-lsp.*` VS Code settings onto the server's settings object.

/** The subset of a WorkspaceConfiguration this module reads (keeps it testable without VS Code). */
export interface ConfigReader {
  get<T>(section: string): T | undefined;
}

/** What the server accepts in initializationOptions and didChangeConfiguration. */
export interface ServerSettings {
  select?: string[];
  ignore?: string[];
  rules?: Record<string, Record<string, unknown>>;
  python?: string;
  'debounce-ms'?: number;
  'bench-timeout-seconds'?: number;
}

function nonEmptyList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const items = value.filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim());
  return items.length > 0 ? items : undefined;
}

function positiveNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Settings left at their defaults are omitted so that the server's own defaults hold
 * (an empty `select` must not mean "no rules").
 */
export function serverSettings(config: ConfigReader, workspaceFolder?: string): ServerSettings {
  const out: ServerSettings = {};
  const select = nonEmptyList(config.get('select'));
  if (select) out.select = select;
  const ignore = nonEmptyList(config.get('ignore'));
  if (ignore) out.ignore = ignore;
  const rules = config.get<Record<string, Record<string, unknown>>>('rules');
  if (rules && typeof rules === 'object' && Object.keys(rules).length > 0) out.rules = rules;
  let python = (config.get<string>('python') ?? '').trim();
  if (python) {
    if (workspaceFolder) python = python.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
    out.python = python;
  }
  const debounce = positiveNumber(config.get('debounceMs'));
  if (debounce !== undefined) out['debounce-ms'] = debounce;
  const benchTimeout = positiveNumber(config.get('benchTimeoutSeconds'));
  if (benchTimeout !== undefined) out['bench-timeout-seconds'] = benchTimeout;
  return out;
}
