//! Which Python interpreter runs the benchmarks: setting, `$VIRTUAL_ENV`, workspace `.venv`, `python3`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The interpreter to use: the `python` setting if set, else `$VIRTUAL_ENV/bin/python`, else
/// `<workspace>/.venv/bin/python`, else `python3` (looked up on `PATH` when spawned).
///
/// The setting is returned as given (so errors name exactly what the user configured); the
/// virtual-environment candidates are used only when the file exists.
pub fn resolve_python(setting: Option<&str>, workspace_root: Option<&Path>) -> PathBuf {
    resolve_with(setting, std::env::var_os("VIRTUAL_ENV"), workspace_root)
}

fn resolve_with(
    setting: Option<&str>,
    virtual_env: Option<OsString>,
    workspace_root: Option<&Path>,
) -> PathBuf {
    if let Some(s) = setting.map(str::trim).filter(|s| !s.is_empty()) {
        return PathBuf::from(s);
    }
    if let Some(venv) = virtual_env.filter(|v| !v.is_empty()) {
        let candidate = Path::new(&venv).join("bin").join("python");
        if candidate.exists() {
            return candidate;
        }
    }
    if let Some(root) = workspace_root {
        let candidate = root.join(".venv").join("bin").join("python");
        if candidate.exists() {
            return candidate;
        }
    }
    PathBuf::from("python3")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_venv(root: &Path) -> PathBuf {
        let bin = root.join("bin");
        fs::create_dir_all(&bin).unwrap();
        let py = bin.join("python");
        fs::write(&py, "").unwrap();
        py
    }

    #[test]
    fn order_is_setting_then_virtual_env_then_workspace_then_python3() {
        let tmp = std::env::temp_dir().join(format!("klsp-resolve-{}", std::process::id()));
        let venv = tmp.join("active");
        let ws = tmp.join("ws");
        let active_py = fake_venv(&venv);
        let ws_py = fake_venv(&ws.join(".venv"));

        assert_eq!(
            resolve_with(
                Some("/opt/py/bin/python"),
                Some(venv.clone().into()),
                Some(&ws)
            ),
            PathBuf::from("/opt/py/bin/python")
        );
        assert_eq!(
            resolve_with(Some("  "), Some(venv.clone().into()), Some(&ws)),
            active_py
        );
        assert_eq!(resolve_with(None, None, Some(&ws)), ws_py);
        // A VIRTUAL_ENV without an interpreter falls through to the workspace.
        assert_eq!(
            resolve_with(None, Some(tmp.join("missing").into()), Some(&ws)),
            ws_py
        );
        assert_eq!(
            resolve_with(None, None, Some(&tmp.join("nothing"))),
            PathBuf::from("python3")
        );
        assert_eq!(resolve_with(None, None, None), PathBuf::from("python3"));
        fs::remove_dir_all(&tmp).unwrap();
    }
}
