//! The embedded Python scenario scripts and the private directory they are written to per run.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Every bundled script: the shared harness, the preflight and one file per scenario.
pub(crate) const SCRIPTS: &[(&str, &str)] = &[
    ("_common.py", include_str!("../../bench/_common.py")),
    ("preflight.py", include_str!("../../bench/preflight.py")),
    ("init.py", include_str!("../../bench/init.py")),
    ("callbacks.py", include_str!("../../bench/callbacks.py")),
    ("pipeline.py", include_str!("../../bench/pipeline.py")),
    ("batch.py", include_str!("../../bench/batch.py")),
    (
        "mixed_precision.py",
        include_str!("../../bench/mixed_precision.py"),
    ),
    (
        "predict_loop.py",
        include_str!("../../bench/predict_loop.py"),
    ),
    ("eager.py", include_str!("../../bench/eager.py")),
];

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh directory, readable only by this user, holding the scripts; removed on drop.
#[derive(Debug)]
pub(crate) struct ScriptDir {
    path: PathBuf,
}

impl ScriptDir {
    /// Create the directory under the system temp dir (mode 0700, never reused) and write
    /// every script into it (mode 0600).
    pub(crate) fn create() -> io::Result<ScriptDir> {
        let base = std::env::temp_dir();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut last_err = None;
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!(
                "keras-lsp-bench-{}-{nanos:x}-{n}",
                std::process::id()
            ));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    let dir = ScriptDir { path };
                    dir.write_all()?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("cannot create a script directory")))
    }

    fn write_all(&self) -> io::Result<()> {
        for (name, text) in SCRIPTS {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(self.path.join(name))?;
            f.write_all(text.as_bytes())?;
        }
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Path of one script inside the directory.
    pub(crate) fn script(&self, file: &str) -> PathBuf {
        self.path.join(file)
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            tracing::debug!("could not remove {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn every_scenario_has_an_embedded_script_with_a_purpose_line() {
        for s in crate::bench::Scenario::ALL {
            let file = format!("{}.py", s.name());
            let (_, text) = SCRIPTS
                .iter()
                .find(|(n, _)| *n == file)
                .unwrap_or_else(|| panic!("{file} is not embedded"));
            assert!(
                text.starts_with("# "),
                "{file} must open with a purpose comment"
            );
            assert!(
                text.contains("import _common"),
                "{file} must use the harness"
            );
        }
    }

    #[test]
    fn script_dir_is_private_and_removed_on_drop() {
        let dir = ScriptDir::create().unwrap();
        let path = dir.path().to_path_buf();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(dir.script("preflight.py").is_file());
        let other = ScriptDir::create().unwrap();
        assert_ne!(other.path(), dir.path());
        drop(dir);
        assert!(!path.exists());
    }
}
