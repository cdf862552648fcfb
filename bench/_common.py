# Shared harness for the keras-lsp benchmark scenarios: stdin parameters, JSON-lines protocol, timing, statistics.
"""Helpers shared by every scenario script.

Protocol (stdout, one JSON object per line, nothing else):
  {"event": "progress", "percent": 0..100, "variant": "...", "message": "..."}
  {"event": "result", ...}            exactly once, on success
  {"event": "error", "kind": "...", "message": "..."}   on failure, with a nonzero exit

Anything else that writes to stdout (TensorFlow, Keras progress bars, stray prints) is
redirected to stderr before TensorFlow is imported, so the protocol stream stays clean.
"""

import json
import math
import os
import platform
import statistics
import sys
import threading
import time
import traceback

# TensorFlow/Keras configuration must happen before the first import of either.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"

# Keep a private handle on the real stdout for the protocol, then point fd 1 at stderr.
_PROTO = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr

EXIT_CRASH = 1
EXIT_BAD_PARAMS = 2
EXIT_MISSING_MODULE = 3


class BadParams(Exception):
    """The JSON request on stdin is malformed or a parameter is out of range."""


class Param:
    """Declaration of one scenario parameter: its kind, default and allowed range."""

    def __init__(self, kind, default, *, quick=None, lo=None, hi=None, choices=None,
                 min_len=1, max_len=64, help=""):
        self.kind = kind  # "int" | "float" | "bool" | "str" | "int_list" | "str_list"
        self.default = default
        self.quick = quick
        self.lo = lo
        self.hi = hi
        self.choices = choices
        self.min_len = min_len
        self.max_len = max_len
        self.help = help

    def default_for(self, quick):
        if quick and self.quick is not None:
            return self.quick
        return self.default

    def _check_scalar(self, name, kind, value):
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadParams(f"parameter '{name}' must be an integer, got {json.dumps(value)}")
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadParams(f"parameter '{name}' must be a number, got {json.dumps(value)}")
            if not math.isfinite(value):
                raise BadParams(f"parameter '{name}' must be finite")
            value = float(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise BadParams(f"parameter '{name}' must be true or false, got {json.dumps(value)}")
        elif kind == "str":
            if not isinstance(value, str):
                raise BadParams(f"parameter '{name}' must be a string, got {json.dumps(value)}")
            if self.choices is not None and value not in self.choices:
                raise BadParams(
                    f"parameter '{name}' must be one of {', '.join(self.choices)}; got {json.dumps(value)}")
        if kind in ("int", "float"):
            if self.lo is not None and value < self.lo:
                raise BadParams(f"parameter '{name}' must be >= {self.lo}, got {value}")
            if self.hi is not None and value > self.hi:
                raise BadParams(f"parameter '{name}' must be <= {self.hi}, got {value}")
        return value

    def validate(self, name, value):
        if self.kind in ("int_list", "str_list"):
            if not isinstance(value, list):
                raise BadParams(f"parameter '{name}' must be a list, got {json.dumps(value)}")
            if not (self.min_len <= len(value) <= self.max_len):
                raise BadParams(
                    f"parameter '{name}' must have {self.min_len} to {self.max_len} items, got {len(value)}")
            item_kind = "int" if self.kind == "int_list" else "str"
            return [self._check_scalar(f"{name}[{i}]", item_kind, v) for i, v in enumerate(value)]
        return self._check_scalar(name, self.kind, value)


class Request:
    """Validated request: quick flag, parameter values and where each value came from."""

    def __init__(self, quick, params, sources):
        self.quick = quick
        self.params = params
        self.sources = sources

    def __getitem__(self, name):
        return self.params[name]


def read_request(specs, stream=None):
    """Read `{"quick": bool, "params": {...}, "sources": {...}}` from stdin and validate it."""
    stream = stream if stream is not None else sys.stdin
    raw = stream.read()
    if raw.strip() == "":
        doc = {}
    else:
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as e:
            raise BadParams(f"stdin is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise BadParams("stdin must be a JSON object like {\"quick\": true, \"params\": {}}")
    unknown_top = set(doc) - {"quick", "params", "sources"}
    if unknown_top:
        raise BadParams(f"unknown top-level keys: {', '.join(sorted(unknown_top))}")
    quick = doc.get("quick", False)
    if not isinstance(quick, bool):
        raise BadParams("'quick' must be true or false")
    given = doc.get("params", {})
    if not isinstance(given, dict):
        raise BadParams("'params' must be a JSON object")
    sources_in = doc.get("sources", {})
    if not isinstance(sources_in, dict) or not all(isinstance(v, str) for v in sources_in.values()):
        raise BadParams("'sources' must map parameter names to strings")
    unknown = set(given) - set(specs)
    if unknown:
        raise BadParams(
            f"unknown parameter(s) {', '.join(sorted(unknown))}; accepted: {', '.join(sorted(specs))}")
    params, sources = {}, {}
    for name, spec in specs.items():
        if name in given and given[name] is not None:
            params[name] = spec.validate(name, given[name])
            sources[name] = sources_in.get(name, "given")
        else:
            params[name] = spec.default_for(quick)
            sources[name] = "default (quick)" if quick and spec.quick is not None else "default"
    return Request(quick, params, sources)


def _clean(value):
    """Make a value JSON-safe: numpy scalars to Python, non-finite floats to null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "f") in "iu":
        return int(value)
    return f if math.isfinite(f) else None


def emit(obj):
    """Write one protocol line to the real stdout."""
    _PROTO.write(json.dumps(_clean(obj), allow_nan=False) + "\n")
    _PROTO.flush()


def progress(percent, variant, message):
    emit({"event": "progress", "percent": round(max(0.0, min(100.0, percent)), 1),
          "variant": variant, "message": message})


def log(message):
    """Human-readable diagnostics go to stderr only."""
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


class Progress:
    """Maps completed work units onto a percentage span and emits progress events."""

    def __init__(self, total_units, start=5.0, end=95.0):
        self.total = max(1, total_units)
        self.done = 0
        self.start = start
        self.end = end

    def step(self, variant, message):
        self.done += 1
        pct = self.start + (self.end - self.start) * min(1.0, self.done / self.total)
        progress(pct, variant, message)


def interleave(variants, reps, warmup, prog=None):
    """Run each variant `warmup` times, then `reps` rounds in a fixed A B A B ... order.

    `variants` is a list of (name, fn); fn() returns one sample (a float) or None.
    Returns {name: [samples...]} for the measured rounds only.
    """
    for w in range(warmup):
        for name, fn in variants:
            fn()
            if prog:
                prog.step(name, f"warm-up {w + 1}/{warmup}")
    samples = {name: [] for name, _ in variants}
    for r in range(reps):
        for name, fn in variants:
            samples[name].append(fn())
            if prog:
                prog.step(name, f"round {r + 1}/{reps}")
    return samples


def stats(samples):
    finite = [s for s in samples if s is not None and math.isfinite(s)]
    if not finite:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(finite), "min": min(finite), "max": max(finite)}


def row(label, samples, variant=None):
    r = {"label": label, "samples": list(samples)}
    if variant:
        r["variant"] = variant
    r.update(stats(samples))
    return r


def overlaps(a, b):
    """Do two rows' min-max ranges overlap (i.e. the difference is within the noise)?"""
    if None in (a["min"], a["max"], b["min"], b["max"]):
        return False
    return a["min"] <= b["max"] and b["min"] <= a["max"]


def spread_note(rows, limit=0.5):
    """A note when some row's min-max spread exceeds `limit` of its median (a busy machine)."""
    noisy = [r["label"] for r in rows
             if r["median"] and r["min"] is not None and (r["max"] - r["min"]) / abs(r["median"]) > limit]
    if not noisy:
        return None
    return (f"High run-to-run spread in {len(noisy)} row(s) (min–max wider than {limit:.0%} of the "
            "median): other processes were probably competing for the CPU. Compare medians, trust only "
            "large gaps, or rerun on an idle machine.")


def fmt(x, digits=3):
    """Compact human formatting for summaries."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        return f"{x:.2e}"
    if ax >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def factor_phrase(before, after, higher_is_better, noun):
    """'1.8x more steps/s' style phrase for a before -> after change."""
    if before is None or after is None or before == 0 or after == 0:
        return f"{noun}: n/a"
    ratio = after / before
    big = max(ratio, 1 / ratio)
    if higher_is_better:
        word = "more" if ratio >= 1 else "fewer"
    else:
        word = "lower" if ratio <= 1 else "higher"
    return f"{big:.1f}\u00d7 {word} {noun}"


def require_module(name, why):
    """Fail early with a clear missing-module error when an optional package is absent."""
    import importlib.util

    if importlib.util.find_spec(name) is None:
        err = ImportError(f"No module named '{name}' ({why})")
        err.name = name
        raise err


_TF = None


def import_tf():
    """Import TensorFlow and Keras once; a clear error event if either is missing."""
    global _TF
    if _TF is not None:
        return _TF
    import tensorflow as tf  # noqa: E402  (deliberately late: env vars above come first)
    import keras

    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    _TF = (tf, keras)
    return _TF


def versions():
    tf, keras = import_tf()
    import numpy as np

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "platform": platform.platform()}


def device_info():
    tf, _ = import_tf()
    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for g in gpus:
        try:
            details = tf.config.experimental.get_device_details(g)
            names.append(details.get("device_name", g.name))
        except Exception:  # noqa: BLE001 - details are optional
            names.append(g.name)
    cpu = platform.processor() or platform.machine()
    return {"kind": "GPU" if gpus else "CPU", "gpus": names, "cpu_count": os.cpu_count(),
            "description": (f"GPU: {', '.join(names)}" if names else f"CPU only ({os.cpu_count()} cores, {cpu})")}


def has_gpu():
    tf, _ = import_tf()
    return bool(tf.config.list_physical_devices("GPU"))


def rss_bytes():
    """Current resident set size of this process (Linux /proc; ru_maxrss fallback elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def available_memory_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


class PeakRss:
    """Samples RSS in a background thread; `peak` is the maximum seen while active."""

    def __init__(self, interval=0.005):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self.peak = rss_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        return False


def epoch_timer(keras):
    """A callback recording wall time per epoch (epoch-level hooks only, so it does not
    change Keras' async batch dispatch). Register it LAST so the epoch-end work of the
    callbacks under test (checkpoint saves, summaries) is inside the timed span."""

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.durations = []
            self._t0 = None

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.durations.append(time.perf_counter() - self._t0)

    return EpochTimer()


def finish(*, scenario, title, metric, unit, higher_is_better, rows, before, after, summary,
           request, notes=(), details=(), figures=None, before_label=None, after_label=None):
    """Emit the single result event. `before`/`after` are row labels."""
    by_label = {r["label"]: r for r in rows}
    b = by_label[before]["median"]
    a = by_label[after]["median"]
    ratio = (a / b) if (a is not None and b not in (None, 0)) else None
    emit({
        "event": "result",
        "scenario": scenario,
        "title": title,
        "metric": {"name": metric, "unit": unit},
        "higher_is_better": higher_is_better,
        "rows": rows,
        "before": {"label": before_label or before, "row": before, "median": b},
        "after": {"label": after_label or after, "row": after, "median": a},
        "ratio": ratio,
        "summary": summary,
        "quick": request.quick,
        "params_used": request.params,
        "param_sources": request.sources,
        "versions": versions(),
        "device": device_info(),
        "notes": list(notes),
        "details": list(details),
        "figures": figures or {},
    })


def table(title, columns, rows):
    """A secondary table for the report: rows are lists aligned with columns."""
    return {"title": title, "columns": list(columns), "rows": [list(r) for r in rows]}


def main(body):
    """Run a scenario body with uniform error reporting and exit codes."""
    try:
        body()
    except BadParams as e:
        emit({"event": "error", "kind": "bad_params", "message": f"invalid parameters: {e}"})
        sys.exit(EXIT_BAD_PARAMS)
    except ImportError as e:
        name = getattr(e, "name", None) or str(e)
        emit({"event": "error", "kind": "missing_module", "module": name, "python": sys.executable,
              "message": f"{sys.executable} cannot import {name}: {e}"})
        sys.exit(EXIT_MISSING_MODULE)
    except KeyboardInterrupt:
        emit({"event": "error", "kind": "interrupted", "message": "interrupted"})
        sys.exit(EXIT_CRASH)
    except Exception as e:  # noqa: BLE001 - report any failure as a protocol error
        traceback.print_exc(file=sys.stderr)
        emit({"event": "error", "kind": "crash", "message": f"{type(e).__name__}: {e}"})
        sys.exit(EXIT_CRASH)
