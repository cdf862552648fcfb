//! Helpers for the benchmark integration tests: the test interpreter, CLI runs, fake interpreters, pid checks.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_keras-lsp");

/// The interpreter with TensorFlow and Keras. Unset is a failure, not a skip.
pub fn test_python() -> PathBuf {
    match std::env::var_os("KERAS_LSP_TEST_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "KERAS_LSP_TEST_PYTHON is not set. Run scripts/ensure-python-env.sh and set \
             KERAS_LSP_TEST_PYTHON=$PWD/.venv/bin/python (see bench/README.md); the benchmark \
             tests fail instead of skipping without it."
        ),
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "klsp-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `keras-lsp bench ARGS`.
pub fn bench(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("bench")
        .args(args)
        .output()
        .expect("run keras-lsp")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run a scenario in quick JSON mode with the test interpreter; panics with stderr on failure.
pub fn bench_json(target: &str, extra: &[&str]) -> Value {
    let python = test_python();
    let mut args = vec![
        target,
        "--quick",
        "--json",
        "--python",
        python.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = bench(&args);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "keras-lsp bench {args:?} failed ({}):\n{stderr}\nstdout: {}",
        out.status,
        text(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", text(&out.stdout)));
    assert!(
        stderr.contains("[100%]") || stderr.contains("[ 95%]") || stderr.contains("%]"),
        "progress lines expected on stderr:\n{stderr}"
    );
    v
}

/// A named figure of a JSON report.
pub fn fig(report: &Value, name: &str) -> f64 {
    report["figures"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("figure {name} missing in {}", report["figures"]))
}

/// Write an executable `#!/bin/sh` script standing in for a Python interpreter.
pub fn fake_python(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("python");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Shell that answers the preflight like a healthy interpreter (`$2` is the script path).
pub const PREFLIGHT_OK: &str = r#"case "$2" in *preflight.py) echo '{"event":"preflight","python":"fake","python_version":"3.11","versions":{"tensorflow":"2.21.0","keras":"3.15.1"},"device":{"kind":"CPU","gpus":[],"cpu_count":2,"description":"CPU only"}}'; exit 0;; esac"#;

/// Is the process still running (not gone and not a zombie)? Waits up to `wait` for it to go.
pub fn alive(pid: i32, wait: Duration) -> bool {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let running = match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => false,
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !(state.starts_with('Z') || state.starts_with('X'))
            }
        };
        if !running || std::time::Instant::now() >= deadline {
            return running;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait for a file the fake interpreter writes (its pid), up to `wait`.
pub fn read_pid(path: &Path, wait: Duration) -> i32 {
    let deadline = std::time::Instant::now() + wait;
    loop {
        if let Ok(s) = fs::read_to_string(path)
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
