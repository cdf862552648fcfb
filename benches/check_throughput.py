# Throughput harness: `keras-lsp check` vs the raw tree-sitter parse of the same files (and ast-grep).
"""Builds a folder of Keras code (the bundled corpus, replicated to --megabytes), then times,
interleaved and repeated, `keras-lsp debug parse-only DIR` (the same file walk and parallelism
as `check`, parsing only) and `keras-lsp check DIR`, plus `ast-grep scan` when installed.
Reports medians and the ratio check/parse.

Usage: python3 benches/check_throughput.py --keras-lsp target/release/keras-lsp [--quick]
       [--baseline OTHER_KERAS_LSP]   (another build's `check`, interleaved in the same run)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "tests", "corpus")

AST_GREP_RULES = """\
id: checkpoint-save-freq
language: python
rule:
  pattern: ModelCheckpoint($$$, save_freq=$F, $$$)
---
id: run-eagerly
language: python
rule:
  pattern: $M.compile($$$, run_eagerly=True, $$$)
"""


def build_tree(root, megabytes):
    sources = sorted(f for f in os.listdir(CORPUS) if f.endswith(".py"))
    total = 0
    copy = 0
    target = megabytes * 1024 * 1024
    while total < target:
        folder = os.path.join(root, f"copy{copy:03d}")
        os.makedirs(folder)
        for name in sources:
            src = os.path.join(CORPUS, name)
            shutil.copyfile(src, os.path.join(folder, name))
            total += os.path.getsize(src)
        copy += 1
    return total


def time_command(argv):
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-lsp", required=True)
    parser.add_argument("--megabytes", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--baseline", help="another keras-lsp build whose check runs alongside")
    args = parser.parse_args()
    megabytes, repeat = (1, 2) if args.quick else (args.megabytes, args.repeat)
    # Only `ast-grep` itself: on Debian `sg` is the setgroups command, not ast-grep.
    ast_grep = shutil.which("ast-grep")
    with tempfile.TemporaryDirectory() as root:
        code = os.path.join(root, "code")
        os.makedirs(code)
        size = build_tree(code, megabytes)
        commands = {
            "parse-only": [args.keras_lsp, "debug", "parse-only", code],
            "check": [args.keras_lsp, "check", "--exit-zero", code],
        }
        if args.baseline:
            commands["baseline"] = [args.baseline, "check", "--exit-zero", code]
        if ast_grep:
            rules = os.path.join(root, "rules.yml")
            with open(rules, "w") as f:
                f.write(AST_GREP_RULES)
            commands["ast-grep"] = [ast_grep, "scan", "--rule", rules, code]
        for argv in commands.values():  # warm the page cache
            time_command(argv)
        times = {name: [] for name in commands}
        for _ in range(repeat):
            for name, argv in commands.items():
                times[name].append(time_command(argv))
    med = {name: statistics.median(t) for name, t in times.items()}
    result = {
        "megabytes": size / 1e6, "repeat": repeat, "cores": os.cpu_count(),
        "median_s": med, "min_s": {n: min(t) for n, t in times.items()},
        "check_over_parse": med["check"] / med["parse-only"],
    }
    if "ast-grep" in med:
        result["ast_grep_over_parse"] = med["ast-grep"] / med["parse-only"]
    if "baseline" in med:
        result["baseline_over_parse"] = med["baseline"] / med["parse-only"]
        result["baseline_over_check"] = med["baseline"] / med["check"]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{size / 1e6:.1f} MB of Keras code, {repeat} interleaved runs, {os.cpu_count()} cores")
    for name, value in med.items():
        print(f"  {name:<11} median {value * 1000:8.1f} ms  ({size / 1e6 / value:6.1f} MB/s)")
    print(f"check / parse-only = {result['check_over_parse']:.2f}x")
    if "ast_grep_over_parse" in result:
        print(f"ast-grep / parse-only = {result['ast_grep_over_parse']:.2f}x")
    if "baseline_over_parse" in result:
        print(f"baseline check / parse-only = {result['baseline_over_parse']:.2f}x; "
              f"this build's check is {result['baseline_over_check']:.2f}x faster")


if __name__ == "__main__":
    sys.exit(main())
