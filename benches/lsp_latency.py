# Keystroke latency harness: didChange -> publishDiagnostics over real stdio, keras-lsp vs ruff server.
"""Drives keras-lsp and `ruff server` with the identical edit script (single-character insertions
at random line ends of a 5,000-line Keras file) and reports p50/p99 latency, cold start and the
ratio; also the RSS of keras-lsp with 200 open 1,000-line documents.

Fairness on a noisy machine: both servers run at the same time and the edits are interleaved
(edit i goes to one server, then the other, alternating which goes first), so load swings hit
both alike. Each latency is the time from writing the didChange to reading the
publishDiagnostics that carries that change's version. ruff advertises pull diagnostics, but
pushes `textDocument/publishDiagnostics` (with the document version) to a client that, like
this one, does not declare `textDocument.diagnostic`: one publish per didChange, so both are
measured the same way. keras-lsp runs with `debounce-ms: 0`; its own in-process figure
(change received -> diagnostics sent, `keras-lsp/serverStats`) is printed beside the client's.

The parse floor: the same edit script replayed in-process (`keras-lsp debug edit-latency
--script`), timing tree-sitter's incremental re-parse apart from the rules. No server can
publish a version's diagnostics before that version is parsed.

ruff comes from the project's venv (`scripts/ensure-python-env.sh` installs the pinned version
when it is missing); `--ruff PATH` picks another, `--no-ruff` skips it.

Usage: python3 benches/lsp_latency.py --keras-lsp target/release/keras-lsp [--quick]
       [--baseline OTHER_KERAS_LSP]   (a second keras-lsp build, e.g. main's, run side by side)
"""
import argparse
import ast
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from lsp_client import LspProcess, path_uri  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "tests", "corpus")


def corpus_sources():
    sources = []
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".py") and "syntax_error" not in name and "ignore_file" not in name:
            with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
                sources.append(f.read())
    return sources


def keras_file(lines):
    """A valid Keras training file of exactly `lines` lines, made from the bundled corpus: whole
    corpus files, then a prefix of the next one cut where it still parses, then comment lines."""
    sources = corpus_sources()
    out = []
    i = 0
    while True:
        source_lines = sources[i % len(sources)].splitlines()
        i += 1
        if len(out) + len(source_lines) <= lines:
            out.extend(source_lines)
            continue
        room = lines - len(out)
        for cut in range(room, -1, -1):
            try:
                ast.parse("\n".join(source_lines[:cut]) + "\n")
            except SyntaxError:
                continue
            out.extend(source_lines[:cut])
            break
        break
    out.extend(f"# filler line {n}" for n in range(lines - len(out)))
    return "\n".join(out) + "\n"


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


def is_publish(uri, version=None):
    def predicate(m):
        if m.get("method") != "textDocument/publishDiagnostics" or m["params"]["uri"] != uri:
            return False
        return version is None or m["params"].get("version") == version
    return predicate


class Session:
    """One server with the benchmark file open."""

    def __init__(self, name, argv, text, workdir):
        self.name = name
        folder = os.path.join(workdir, name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "train.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        self.uri = path_uri(path)
        self.server = LspProcess(argv, cwd=folder)
        start = time.perf_counter()
        self.server.request("initialize", {
            "processId": os.getpid(), "rootUri": path_uri(folder),
            "workspaceFolders": [{"uri": path_uri(folder), "name": "bench"}],
            "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True}}},
            "initializationOptions": {"debounce-ms": 0} if name.startswith("keras-lsp") else {},
        })
        self.server.notify("initialized", {})
        self.server.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri, "languageId": "python", "version": 1, "text": text}})
        self.server.wait(is_publish(self.uri))
        self.cold_ms = (time.perf_counter() - start) * 1000
        self.latencies = []

    def edit(self, version, line, col):
        sent = self.server.notify("textDocument/didChange", {
            "textDocument": {"uri": self.uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": line, "character": col},
                                          "end": {"line": line, "character": col}}, "text": "x"}]})
        stamp, _ = self.server.wait(is_publish(self.uri, version))
        self.latencies.append((stamp - sent) * 1000)

    def server_stats(self):
        if not self.name.startswith("keras-lsp"):
            return None
        try:
            return self.server.request("keras-lsp/serverStats", {}).get("result")
        except Exception:
            return None

    def summary(self):
        lat = self.latencies
        result = {"cold_ms": self.cold_ms, "p50_ms": percentile(lat, 50),
                  "p99_ms": percentile(lat, 99), "mean_ms": statistics.mean(lat),
                  "max_ms": max(lat), "edits": len(lat)}
        stats = self.server_stats()
        if stats:
            result["server_side"] = stats.get("change_to_publish_ms")
        return result


def run_interleaved(servers, text, edits, workdir):
    sessions = [Session(name, argv, text, workdir) for name, argv in servers]
    for version, (line, col) in enumerate(edits, start=2):
        order = sessions if version % 2 == 0 else list(reversed(sessions))
        for session in order:
            session.edit(version, line, col)
    results = {s.name: s.summary() for s in sessions}
    for s in sessions:
        s.server.close()
    return results


def cold_start(name, argv, text, workdir, repeat):
    """Median cold start (initialize -> first publish), each in a fresh process."""
    times = []
    for i in range(repeat):
        session = Session(name, argv, text, os.path.join(workdir, f"cold{i}"))
        times.append(session.cold_ms)
        session.server.close()
    return statistics.median(times)


def memory_200_documents(argv, workdir):
    folder = os.path.join(workdir, "memory")
    os.makedirs(folder, exist_ok=True)
    server = LspProcess(argv, cwd=folder)
    server.request("initialize", {"processId": os.getpid(), "rootUri": path_uri(folder),
                                  "capabilities": {}})
    server.notify("initialized", {})
    text = keras_file(1000)
    for i in range(200):
        uri = path_uri(os.path.join(folder, f"doc{i}.py"))
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}})
        server.wait(is_publish(uri))
    rss = server.rss_kib() / 1024
    server.close()
    return rss


def venv_ruff():
    """The project's pinned ruff, installed into .venv by the set-up script when missing."""
    ruff = os.path.join(HERE, "..", ".venv", "bin", "ruff")
    if not os.path.exists(ruff):
        subprocess.run([os.path.join(HERE, "..", "scripts", "ensure-python-env.sh")], check=True,
                       stdout=sys.stderr)
    return os.path.abspath(ruff)


def parse_floor(keras_lsp, text, edits, workdir):
    """The identical edit script in-process: re-parse time apart from the rules' time."""
    path = os.path.join(workdir, "floor.py")
    script = os.path.join(workdir, "floor-script.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    with open(script, "w", encoding="utf-8") as f:
        json.dump(edits, f)
    out = subprocess.run([keras_lsp, "debug", "edit-latency", path, "--script", script],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-lsp", required=True)
    parser.add_argument("--baseline", help="another keras-lsp build to run side by side")
    parser.add_argument("--ruff", help="path to ruff (default: the project's .venv, installed "
                        "when missing)")
    parser.add_argument("--no-ruff", action="store_true", help="run without the ruff baseline")
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=500)
    parser.add_argument("--cold-repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="few edits, to check the harness works")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    servers = [("keras-lsp", [os.path.abspath(args.keras_lsp), "server"])]
    if args.baseline:
        servers.append(("keras-lsp-baseline", [os.path.abspath(args.baseline), "server"]))
    if not args.no_ruff:
        ruff = os.path.abspath(args.ruff) if args.ruff else venv_ruff()
        servers.append(("ruff", [ruff, "server"]))
    edits_n = 30 if args.quick else args.edits
    cold_repeat = 1 if args.quick else args.cold_repeat
    text = keras_file(args.lines)
    edits = edit_script(text, edits_n)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as workdir:
        results = run_interleaved(servers, text, edits, workdir)
        for name, argv in servers:
            results[name]["cold_median_ms"] = cold_start(name, argv, text, workdir, cold_repeat)
        results["memory_200_docs_mib"] = memory_200_documents(servers[0][1], workdir)
        results["parse_floor"] = parse_floor(os.path.abspath(args.keras_lsp), text, edits, workdir)
    results["load_average"] = load
    results["cpus"] = os.cpu_count()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.lines}-line file, {edits_n} single-character edits at random line ends, "
          f"servers interleaved; load average {load[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'server':<20} {'cold start':>11} {'p50':>9} {'p99':>9} {'mean':>9} {'max':>9}")
    for name, _ in servers:
        r = results[name]
        print(f"{name:<20} {r['cold_median_ms']:>9.1f}ms {r['p50_ms']:>7.2f}ms "
              f"{r['p99_ms']:>7.2f}ms {r['mean_ms']:>7.2f}ms {r['max_ms']:>7.2f}ms")
        side = r.get("server_side")
        if side and side.get("count"):
            print(f"{'  (in-process)':<20} {'':>11} {side['p50']:>7.2f}ms {side['p99']:>7.2f}ms "
                  f"{side['mean']:>7.2f}ms {side['max']:>7.2f}ms")
    k = results["keras-lsp"]
    for other in ("keras-lsp-baseline", "ruff"):
        if other in results:
            o = results[other]
            print(f"ratio {other}/keras-lsp: p50 {o['p50_ms'] / k['p50_ms']:.2f}x, "
                  f"p99 {o['p99_ms'] / k['p99_ms']:.2f}x, "
                  f"cold {o['cold_median_ms'] / k['cold_median_ms']:.2f}x")
    floor = results["parse_floor"]
    print(f"in-process, same edits: apply + incremental re-parse p50 "
          f"{floor['apply_and_parse_ms']['p50']:.2f}ms p99 {floor['apply_and_parse_ms']['p99']:.2f}ms; "
          f"rules p50 {floor['rules_ms']['p50']:.2f}ms p99 {floor['rules_ms']['p99']:.2f}ms; "
          f"first parse {floor['first_parse_ms']:.1f}ms, first analysis "
          f"{floor['first_analysis_ms']:.1f}ms")
    print(f"RSS with 200 open 1,000-line documents (keras-lsp): "
          f"{results['memory_200_docs_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
