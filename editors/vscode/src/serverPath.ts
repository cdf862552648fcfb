// Decides which keras-lsp executable the extension starts: setting, bundled binary, or PATH.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export type ServerSource = 'setting' | 'bundled' | 'path';

export interface ResolvedServer {
  command: string;
  source: ServerSource;
}

export interface ResolveInput {
  /** The `keras-lsp.server.path` setting ('' when unset). */
  configured: string;
  /** Root of the installed extension (holds `bin/<platform>-<arch>/`). */
  extensionPath: string;
  /** Folder that a relative `server.path` is resolved against, if any. */
  workspaceFolder?: string;
  platform?: NodeJS.Platform;
  arch?: string;
  env?: NodeJS.ProcessEnv;
  isExecutable?: (file: string) => boolean;
}

function defaultIsExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    if (process.platform === 'win32') return true;
    if ((st.mode & 0o111) === 0) {
      // A .vsix does not always keep the executable bit; restore it for our own binary.
      fs.chmodSync(file, st.mode | 0o755);
    }
    return true;
  } catch {
    return false;
  }
}

function exeName(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'keras-lsp.exe' : 'keras-lsp';
}

/** `bin/<platform>-<arch>/keras-lsp` inside the extension, the layout `npm run package` stages. */
export function bundledServerPath(extensionPath: string, platform: NodeJS.Platform, arch: string): string {
  return path.join(extensionPath, 'bin', `${platform}-${arch}`, exeName(platform));
}

function expandUser(p: string, env: NodeJS.ProcessEnv): string {
  if (p === '~' || p.startsWith('~/')) {
    return path.join(env.HOME ?? os.homedir(), p.slice(1));
  }
  return p;
}

function searchPath(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform,
  isExecutable: (file: string) => boolean): string | undefined {
  const sep = platform === 'win32' ? ';' : ':';
  for (const dir of (env.PATH ?? '').split(sep)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The setting wins (a relative path is taken from the workspace folder); then the binary
 * bundled for this platform; then `keras-lsp` on PATH. Returns undefined when none exists.
 */
export function resolveServer(input: ResolveInput): ResolvedServer | undefined {
  const platform = input.platform ?? process.platform;
  const arch = input.arch ?? process.arch;
  const env = input.env ?? process.env;
  const isExecutable = input.isExecutable ?? defaultIsExecutable;

  const configured = input.configured.trim();
  if (configured) {
    let command = expandUser(configured, env);
    if (!path.isAbsolute(command) && command.includes('/') && input.workspaceFolder) {
      command = path.join(input.workspaceFolder, command);
    }
    // A bare name in the setting is looked up on PATH like any command.
    if (!command.includes('/') && !command.includes('\\')) {
      const found = searchPath(command, env, platform, isExecutable);
      return found ? { command: found, source: 'setting' } : undefined;
    }
    return isExecutable(command) ? { command, source: 'setting' } : undefined;
  }

  const bundled = bundledServerPath(input.extensionPath, platform, arch);
  if (isExecutable(bundled)) return { command: bundled, source: 'bundled' };

  const onPath = searchPath(exeName(platform), env, platform, isExecutable);
  return onPath ? { command: onPath, source: 'path' } : undefined;
}
