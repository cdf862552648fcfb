//! Benchmark failure paths through the CLI and the library: missing interpreter, missing TensorFlow, timeout, cancellation.

#[path = "common/bench.rs"]
mod bench_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench_common::*;
use keras_lsp::bench::{BenchRequest, CancelToken, Scenario, Stage, run};

#[test]
fn a_nonexistent_interpreter_gets_a_clear_error() {
    let out = bench(&["KRS301", "--quick", "--python", "/nonexistent/bin/python3"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot run the Python interpreter '/nonexistent/bin/python3'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pip install tensorflow-cpu keras"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout without --json");
}

#[test]
fn an_interpreter_without_tensorflow_says_what_to_install_into_it() {
    let dir = scratch("notf");
    // A real Python that cannot see any site-packages.
    let py = fake_python(&dir, "exec python3 -I -S \"$@\"");
    let out = bench(&[
        "init",
        "--quick",
        "--json",
        "--python",
        py.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let shown = py.display().to_string();
    assert!(stderr.contains(&shown), "{stderr}");
    assert!(stderr.contains("cannot import tensorflow"), "{stderr}");
    assert!(
        stderr.contains(&format!("'{shown}' -m pip install tensorflow-cpu keras")),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "missing_module");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_targets_and_bad_flags_are_usage_errors() {
    let out = bench(&["KRS999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected a scenario or a finding code"));
    let out = bench(&["init", "--param", "oops"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bench(&["init", "--timeout", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let dir = scratch("timeout");
    let py = fake_python(
        &dir,
        &format!(
            "{PREFLIGHT_OK}\nsleep 300 &\necho $! > \"$(dirname \"$0\")/grandchild\"\necho $$ > \"$(dirname \"$0\")/child\"\nwait"
        ),
    );
    let t0 = Instant::now();
    let out = bench(&["eager", "--timeout", "2", "--python", py.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timed out after 2 s"), "{stderr}");
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    for name in ["child", "grandchild"] {
        let pid = read_pid(&dir.join(name), Duration::from_secs(1));
        assert!(!alive(pid, Duration::from_secs(2)), "{name} {pid} survived");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cancel_token_kills_child_and_grandchild() {
    let dir = scratch("cancel");
    let py = fake_python(
        &dir,
        &format!(
            "{PREFLIGHT_OK}\nsleep 300 &\necho $! > \"$(dirname \"$0\")/grandchild\"\necho '{{\"event\":\"progress\",\"percent\":10,\"variant\":\"before\",\"message\":\"round 1/3\"}}'\nwait"
        ),
    );
    let token = CancelToken::new();
    let mut seen = None;
    let t0 = Instant::now();
    let err = run(
        &BenchRequest::new(Scenario::Callbacks, &py),
        |p| {
            if p.stage == Stage::Scenario {
                seen = Some((p.pid, p.variant.clone(), p.percent));
                token.cancel();
            }
        },
        &token,
    )
    .unwrap_err();
    assert_eq!(err.kind(), "cancelled", "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let (pid, variant, percent) = seen.expect("scenario progress");
    assert_eq!(variant.as_deref(), Some("before"));
    assert!(
        (percent - 14.5).abs() < 0.01,
        "5 + 0.95 * 10, got {percent}"
    );
    assert!(
        !alive(pid as i32, Duration::from_secs(2)),
        "child {pid} survived"
    );
    let gc = read_pid(&dir.join("grandchild"), Duration::from_secs(1));
    assert!(
        !alive(gc, Duration::from_secs(2)),
        "grandchild {gc} survived"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ctrl_c_on_the_cli_kills_the_benchmark_group() {
    let dir = scratch("sigint");
    let py = fake_python(
        &dir,
        &format!(
            "{PREFLIGHT_OK}\nsleep 300 &\necho $! > \"$(dirname \"$0\")/grandchild\"\necho $$ > \"$(dirname \"$0\")/child\"\nwait"
        ),
    );
    let cli = Command::new(BIN)
        .args(["bench", "eager", "--python", py.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let child = read_pid(&dir.join("child"), Duration::from_secs(10));
    let gc = read_pid(&dir.join("grandchild"), Duration::from_secs(10));
    // SAFETY: sends SIGINT to the CLI process we spawned.
    unsafe { libc::kill(cli.id() as i32, libc::SIGINT) };
    let out = cli.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cancelled"));
    assert!(
        !alive(child, Duration::from_secs(2)),
        "child {child} survived"
    );
    assert!(
        !alive(gc, Duration::from_secs(2)),
        "grandchild {gc} survived"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_crashing_scenario_reports_the_stderr_tail() {
    let dir = scratch("crash");
    let py = fake_python(
        &dir,
        &format!(
            "{PREFLIGHT_OK}\necho 'Fatal Python error: Segmentation fault' >&2\nkill -SEGV $$"
        ),
    );
    let out = bench(&["batch", "--python", py.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("segmentation fault (SIGSEGV)"), "{stderr}");
    assert!(stderr.contains("Fatal Python error"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
