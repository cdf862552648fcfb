# Keystroke latency harness: didChange -> publishDiagnostics over real stdio, keras-lsp vs ruff server.
"""Drives each server with the identical edit script (single-character insertions at random line
ends of a 5,000-line Keras file) and reports p50/p99 latency, cold start and the ratio.
Also measures RSS with 200 open 1,000-line documents (keras-lsp).

Usage: python3 benches/lsp_latency.py --keras-lsp target/release/keras-lsp [--ruff PATH] [--quick]
"""
import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from lsp_client import LspProcess, path_uri  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "tests", "corpus")


def keras_file(lines):
    """A Keras training file of `lines` lines made from the bundled corpus (valid Python)."""
    sources = []
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".py") and "syntax_error" not in name and "ignore_file" not in name:
            with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
                sources.append(f.read())
    out = []
    i = 0
    while len(out) < lines:
        out.extend(sources[i % len(sources)].splitlines())
        i += 1
    return "\n".join(out[:lines]) + "\n"


def edit_script(text, count, seed=1234):
    """(line, column) insert points at random line ends, with the column in UTF-16 units."""
    rng = random.Random(seed)
    lines = text.split("\n")
    edits = []
    for _ in range(count):
        line = rng.randrange(len(lines) - 1)
        col = len(lines[line].encode("utf-16-le")) // 2
        edits.append((line, col))
        lines[line] += "x"
    return edits


def percentile(values, p):
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[k]


def run_server(name, argv, text, edits, workdir):
    path = os.path.join(workdir, "train.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    uri = path_uri(path)
    server = LspProcess(argv, cwd=workdir)
    start = time.perf_counter()
    server.request("initialize", {
        "processId": os.getpid(), "rootUri": path_uri(workdir),
        "workspaceFolders": [{"uri": path_uri(workdir), "name": "bench"}],
        "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True}}},
        "initializationOptions": {"debounce-ms": 0} if name == "keras-lsp" else {},
    })
    server.notify("initialized", {})
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": text}})
    server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == uri)
    cold_ms = (time.perf_counter() - start) * 1000
    latencies = []
    for version, (line, col) in enumerate(edits, start=2):
        sent = server.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": line, "character": col},
                                          "end": {"line": line, "character": col}}, "text": "x"}]})
        stamp, _ = server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                               and m["params"]["uri"] == uri
                               and m["params"].get("version") in (version, None))
        latencies.append((stamp - sent) * 1000)
    server.close()
    return {"cold_ms": cold_ms, "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99), "mean_ms": statistics.mean(latencies),
            "edits": len(latencies)}


def memory_200_documents(argv, workdir):
    server = LspProcess(argv, cwd=workdir)
    server.request("initialize", {"processId": os.getpid(), "rootUri": path_uri(workdir),
                                  "capabilities": {}})
    server.notify("initialized", {})
    text = keras_file(1000)
    for i in range(200):
        uri = path_uri(os.path.join(workdir, f"doc{i}.py"))
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}})
        server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                    and m["params"]["uri"] == uri)
    rss = server.rss_kib() / 1024
    server.close()
    return rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-lsp", required=True)
    parser.add_argument("--ruff", help="path to ruff (baseline); skipped when absent")
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="few edits, to check the harness works")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.keras_lsp = os.path.abspath(args.keras_lsp)
    args.ruff = os.path.abspath(args.ruff) if args.ruff else None
    edits_n = 30 if args.quick else args.edits
    text = keras_file(args.lines)
    edits = edit_script(text, edits_n)
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        results["keras-lsp"] = run_server("keras-lsp", [args.keras_lsp, "server"], text, edits, workdir)
        if args.ruff:
            results["ruff"] = run_server("ruff", [args.ruff, "server"], text, edits, workdir)
        results["memory_200_docs_mib"] = memory_200_documents([args.keras_lsp, "server"], workdir)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.lines}-line file, {edits_n} single-character edits at random line ends")
    print(f"{'server':<10} {'cold start':>11} {'p50':>9} {'p99':>9} {'mean':>9}")
    for name in ("keras-lsp", "ruff"):
        if name in results:
            r = results[name]
            print(f"{name:<10} {r['cold_ms']:>9.1f}ms {r['p50_ms']:>7.2f}ms {r['p99_ms']:>7.2f}ms {r['mean_ms']:>7.2f}ms")
    if "ruff" in results:
        k, r = results["keras-lsp"], results["ruff"]
        print(f"ratio ruff/keras-lsp: p50 {r['p50_ms'] / k['p50_ms']:.2f}x, p99 {r['p99_ms'] / k['p99_ms']:.2f}x")
    print(f"RSS with 200 open 1,000-line documents: {results['memory_200_docs_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
