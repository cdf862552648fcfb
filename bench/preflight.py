# Preflight for keras-lsp benchmarks: import TensorFlow and Keras, report versions and devices as one JSON line.
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402


def body():
    t0 = time.perf_counter()
    missing = []
    for name in ("numpy", "tensorflow", "keras"):
        try:
            __import__(name)
        except ImportError as e:
            missing.append({"module": name, "error": str(e)})
    if missing:
        names = ", ".join(m["module"] for m in missing)
        main = "tensorflow" if any(m["module"] == "tensorflow" for m in missing) else missing[0]["module"]
        c.emit({"event": "error", "kind": "missing_module", "module": main,
                "missing": missing, "python": sys.executable,
                "message": f"{sys.executable} cannot import {names}"})
        sys.exit(c.EXIT_MISSING_MODULE)
    c.emit({"event": "preflight", "python": sys.executable,
            "python_version": platform.python_version(), "versions": c.versions(),
            "device": c.device_info(), "import_seconds": round(time.perf_counter() - t0, 2)})


if __name__ == "__main__":
    c.main(body)
