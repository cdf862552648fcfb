// VS Code extension for keras-lsp: starts the language server and adds its commands.
import * as fs from 'fs';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  StaticFeature,
  WorkDoneProgress,
} from 'vscode-languageclient/node';
import { resolveServer } from './serverPath';
import { serverSettings } from './settings';

const SECTION = 'keras-lsp';
const SOURCE = 'keras-lsp';
const FIX_ALL_KIND = 'source.fixAll.keras-lsp';
/**
 * The server's benchmark command. vscode-languageclient registers every command the server
 * advertises as a VS Code command of the same name (code lenses call it), so the extension's own
 * commands live under `keras-lsp.client.*` and cannot clash with them.
 */
const SERVER_BENCHMARK_COMMAND = 'keras-lsp.runBenchmark';

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;

function workspaceFolderPath(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

function currentServerSettings() {
  return serverSettings(vscode.workspace.getConfiguration(SECTION), workspaceFolderPath());
}

function createClient(context: vscode.ExtensionContext): LanguageClient | undefined {
  const config = vscode.workspace.getConfiguration(SECTION);
  const configured = config.get<string>('server.path') ?? '';
  const server = resolveServer({
    configured,
    extensionPath: context.extensionPath,
    workspaceFolder: workspaceFolderPath(),
  });
  if (!server) {
    const why = configured
      ? `The setting keras-lsp.server.path is "${configured}", which is not an executable file.`
      : 'No keras-lsp binary is bundled for this platform and none is on PATH. Install it (cargo install keras-lsp) or set keras-lsp.server.path.';
    output.appendLine(`keras-lsp not started: ${why}`);
    void vscode.window.showErrorMessage(`keras-lsp: ${why}`, 'Open Settings').then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', 'keras-lsp.server.path');
    });
    return undefined;
  }
  output.appendLine(`keras-lsp: starting ${server.command} (from ${server.source})`);

  const args = ['server', ...(config.get<string[]>('server.extraArgs') ?? [])];
  // No `transport` on purpose: TransportKind.stdio makes the client append `--stdio`, which
  // `keras-lsp server` does not take; without it the client still talks over stdin/stdout.
  const serverOptions: ServerOptions = {
    run: { command: server.command, args },
    debug: { command: server.command, args },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'python' },
      { scheme: 'untitled', language: 'python' },
      { notebook: 'jupyter-notebook', language: 'python' },
    ],
    initializationOptions: currentServerSettings(),
    outputChannel: output,
    middleware: {
      workspace: {
        // Answer the server's pull for settings with the mapped object, not raw VS Code keys.
        configuration: (params, token, next) => {
          const wantsOurs = params.items.every((item) => item.section === undefined || item.section === SECTION);
          if (!wantsOurs) return next(params, token);
          return params.items.map(() => currentServerSettings());
        },
      },
      executeCommand: (command, args, next) => {
        if (command === SERVER_BENCHMARK_COMMAND) return runBenchmarkWithProgress(args);
        return next(command, args);
      },
    },
  };
  const languageClient = new LanguageClient(SECTION, 'keras-lsp', serverOptions, clientOptions);
  languageClient.registerFeature(pushDiagnosticsOnly);
  return languageClient;
}

/**
 * Asks keras-lsp to push diagnostics: vscode-languageclient pulls only for documents shown in a
 * tab, and a notebook cell never is one, so in pull mode cells would get no diagnostics. The
 * server publishes when the client does not declare `textDocument.diagnostic`.
 */
const pushDiagnosticsOnly: StaticFeature = {
  fillClientCapabilities(capabilities) {
    if (capabilities.textDocument) delete capabilities.textDocument.diagnostic;
  },
  initialize() {},
  getState: () => ({ kind: 'static' }),
  clear() {},
};

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  client = createClient(context);
  if (!client) return;
  try {
    await client.start();
  } catch (err) {
    output.appendLine(`keras-lsp failed to start: ${String(err)}`);
    void vscode.window.showErrorMessage(`keras-lsp failed to start: ${String(err)}`);
  }
}

async function stopClient(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) await old.stop().catch(() => undefined);
}

/**
 * Applies the server's `source.fixAll.keras-lsp` action to the active file. The action is fetched
 * with `vscode.executeCodeActionProvider` and applied here, so the outcome does not depend on the
 * editor's code-action widget state; returns whether an edit was applied.
 */
async function fixAllCommand(): Promise<boolean> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('keras-lsp: open a Python file to fix.');
    return false;
  }
  const document = editor.document;
  const whole = new vscode.Range(0, 0, document.lineCount, 0);
  const actions = (await vscode.commands.executeCommand<vscode.CodeAction[]>(
    'vscode.executeCodeActionProvider', document.uri, whole, FIX_ALL_KIND, 1)) ?? [];
  const action = actions.find((a) => a.kind?.value === FIX_ALL_KIND);
  if (!action) {
    void vscode.window.showInformationMessage('keras-lsp: the server offered no fix-all action for this file.');
    return false;
  }
  const edits = action.edit?.entries().reduce((n, [, list]) => n + list.length, 0) ?? 0;
  if (action.edit && edits > 0 && !(await vscode.workspace.applyEdit(action.edit))) {
    void vscode.window.showErrorMessage('keras-lsp: the fix-all edit could not be applied.');
    return false;
  }
  if (action.command) {
    await vscode.commands.executeCommand(action.command.command, ...(action.command.arguments ?? []));
  }
  void vscode.window.setStatusBarMessage(edits > 0 ? 'keras-lsp: applied all safe fixes' : 'keras-lsp: nothing to fix', 3000);
  return edits > 0;
}

/** keras-lsp diagnostics in `document`, the one under the cursor first. */
function findingsAt(document: vscode.TextDocument, position?: vscode.Position): vscode.Diagnostic[] {
  const ours = vscode.languages.getDiagnostics(document.uri).filter((d) => d.source === SOURCE);
  if (!position) return ours;
  const here = ours.filter((d) => d.range.contains(position) || d.range.start.line === position.line);
  return [...here, ...ours.filter((d) => !here.includes(d))];
}

function codeOf(d: vscode.Diagnostic): string {
  if (d.code === undefined) return '';
  return typeof d.code === 'object' ? String(d.code.value) : String(d.code);
}

/** Palette command: pick a finding (the one at the cursor when there is one) and benchmark it. */
async function benchmarkCommand(): Promise<unknown> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('keras-lsp: open a Python file to run a benchmark.');
    return undefined;
  }
  const findings = findingsAt(editor.document, editor.selection.active);
  if (findings.length === 0) {
    void vscode.window.showInformationMessage('keras-lsp: no finding in this file to benchmark.');
    return undefined;
  }
  let chosen = findings[0];
  const onCursorLine = findings.filter((d) => d.range.start.line === editor.selection.active.line);
  if (onCursorLine.length !== 1 && findings.length > 1) {
    const picked = await vscode.window.showQuickPick(
      findings.map((d) => ({ label: codeOf(d), description: `line ${d.range.start.line + 1}`, detail: d.message, d })),
      { title: 'keras-lsp: benchmark which finding?' },
    );
    if (!picked) return undefined;
    chosen = picked.d;
  }
  const range = {
    start: { line: chosen.range.start.line, character: chosen.range.start.character },
    end: { line: chosen.range.end.line, character: chosen.range.end.character },
  };
  return runBenchmarkWithProgress([editor.document.uri.toString(), codeOf(chosen), range]);
}

/**
 * Runs the server's benchmark command under a cancellable notification. The request carries a
 * work-done token, so the server's progress messages show in the notification; the status bar
 * shows any progress the server starts itself.
 */
async function runBenchmarkWithProgress(args: unknown[]): Promise<unknown> {
  const c = client;
  if (!c) {
    void vscode.window.showErrorMessage('keras-lsp: the server is not running.');
    return undefined;
  }
  const code = typeof args[1] === 'string' ? args[1] : '';
  const title = `keras-lsp: benchmarking ${code || 'finding'}`;
  const token = `keras-lsp-bench-${Date.now()}`;
  output.appendLine(`${title} (${JSON.stringify(args)})`);
  const started = Date.now();
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, cancel) => {
        progress.report({ message: 'starting…' });
        const sub = c.onProgress(WorkDoneProgress.type, token, (value) => {
          if (value.kind !== 'end' && value.message) progress.report({ message: value.message });
        });
        const source = new vscode.CancellationTokenSource();
        cancel.onCancellationRequested(() => source.cancel());
        try {
          return await c.sendRequest(
            ExecuteCommandRequest.type,
            { command: SERVER_BENCHMARK_COMMAND, arguments: args, workDoneToken: token },
            source.token,
          );
        } finally {
          sub.dispose();
          source.dispose();
        }
      },
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    showBenchmarkResult(code, result, seconds);
    return result;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    output.appendLine(`${title}: failed: ${message}`);
    void vscode.window.showErrorMessage(`keras-lsp benchmark ${code} failed: ${message}`, 'Show Output').then((choice) => {
      if (choice) output.show(true);
    });
    return undefined;
  }
}

/** The server's result: a summary line in a notification, everything in the output channel. */
function showBenchmarkResult(code: string, result: unknown, seconds: string): void {
  let summary: string;
  let details: string;
  if (typeof result === 'string') {
    summary = result.split('\n')[0];
    details = result;
  } else if (result && typeof result === 'object') {
    const r = result as Record<string, unknown>;
    const text = [r.summary, r.message, r.markdown].find((v) => typeof v === 'string') as string | undefined;
    summary = text ? text.split('\n')[0] : `finished in ${seconds} s`;
    details = typeof r.markdown === 'string' ? r.markdown : JSON.stringify(result, null, 2);
  } else {
    summary = `finished in ${seconds} s (no result)`;
    details = String(result);
  }
  output.appendLine(`keras-lsp benchmark ${code} (${seconds} s):`);
  output.appendLine(details);
  void vscode.window.showInformationMessage(`keras-lsp benchmark ${code}: ${summary}`, 'Show Details').then((choice) => {
    if (choice) output.show(true);
  });
}

/** Test-only: writes diagnostics and open Python documents to a JSON file for the e2e test. */
function dumpDiagnostics(): string {
  const config = vscode.workspace.getConfiguration(SECTION);
  const file = config.get<string>('test.diagnosticsFile') || process.env.KERAS_LSP_VSCODE_DUMP || '';
  if (!file) throw new Error('set keras-lsp.test.diagnosticsFile');
  const diagnostics = vscode.languages.getDiagnostics().flatMap(([uri, list]) =>
    list.map((d) => ({
      uri: uri.toString(),
      source: d.source,
      code: codeOf(d),
      message: d.message,
      severity: d.severity,
      range: [d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character],
    })),
  );
  const documents = vscode.workspace.textDocuments
    .filter((doc) => doc.languageId === 'python')
    .map((doc) => ({ uri: doc.uri.toString(), text: doc.getText(), isDirty: doc.isDirty }));
  fs.writeFileSync(file, JSON.stringify({ diagnostics, documents }, null, 2));
  return file;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('keras-lsp');
  context.subscriptions.push(output);

  context.subscriptions.push(
    vscode.commands.registerCommand('keras-lsp.client.fixAll', fixAllCommand),
    vscode.commands.registerCommand('keras-lsp.client.runBenchmark', benchmarkCommand),
    vscode.commands.registerCommand('keras-lsp.client.restartServer', async () => {
      await stopClient();
      await startClient(context);
      void vscode.window.setStatusBarMessage('keras-lsp: server restarted', 3000);
    }),
    vscode.commands.registerCommand('keras-lsp.client.showOutput', () => output.show(true)),
  );

  const testEnabled = vscode.workspace.getConfiguration(SECTION).get<boolean>('test.enable') || process.env.KERAS_LSP_VSCODE_TEST === '1';
  if (testEnabled) {
    context.subscriptions.push(vscode.commands.registerCommand('keras-lsp.client.dumpDiagnostics', dumpDiagnostics));
  }

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration(SECTION)) return;
      if (event.affectsConfiguration(`${SECTION}.server`)) {
        await stopClient();
        await startClient(context);
        return;
      }
      await client?.sendNotification('workspace/didChangeConfiguration', {
        settings: { [SECTION]: currentServerSettings() },
      });
    }),
  );

  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
