# GPU-only measurement: Keras 3 training step time under float32 vs mixed_float16 vs mixed_bfloat16.
"""Runs on any Keras 3 backend with a GPU (the lent GPU machine has JAX, not TensorFlow:
`KERAS_BACKEND=jax`). Workloads: an MLP (4x Dense(4096), batch 1024) and a small conv net
(batch 256, 64x64x3), compiled with `steps_per_execution=10`. Policies are interleaved (A B C A B C ...) after a compile/warm-up fit;
each sample is the mean step time of one `fit` of `--steps` steps. Reports medians, min-max and
the ratio to float32. This backs the speed claim of the `mixed_precision` scenario, which only
measures speed when a GPU is present.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def build(keras, workload):
    layers = keras.layers
    if workload == "mlp":
        return keras.Sequential(
            [layers.Input((1024,))]
            + [layers.Dense(4096, activation="relu") for _ in range(4)]
            + [layers.Dense(10), layers.Activation("softmax", dtype="float32")]
        ), (1024,), 1024
    return keras.Sequential([
        layers.Input((64, 64, 3)),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(128, 3, padding="same", activation="relu"),
        layers.Conv2D(128, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(256, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(10),
        layers.Activation("softmax", dtype="float32"),
    ]), (64, 64, 3), 256


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import keras

    backend = keras.backend.backend()
    devices = []
    if backend == "jax":
        import jax
        devices = [str(d) for d in jax.devices()]
        if not any(d.platform == "gpu" for d in jax.devices()):
            sys.exit("no GPU visible to JAX: this measurement is GPU-only")
    policies = ["float32", "mixed_float16", "mixed_bfloat16"]
    rng = np.random.default_rng(0)
    results = {"backend": backend, "keras": keras.__version__, "devices": devices, "workloads": {}}
    for workload in ("mlp", "conv"):
        models = {}
        data = None
        for policy in policies:
            keras.config.set_dtype_policy(policy)
            model, shape, batch = build(keras, workload)
            # steps_per_execution keeps per-step dispatch overhead out of the comparison.
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                          steps_per_execution=10)
            if data is None:
                n = batch * args.steps
                data = (rng.standard_normal((n, *shape)).astype("float32"),
                        rng.integers(0, 10, size=(n,)))
            model.fit(*data, batch_size=batch, epochs=1, verbose=0)  # compile + warm-up
            models[policy] = (model, batch)
        keras.config.set_dtype_policy("float32")
        samples = {p: [] for p in policies}
        for _ in range(args.repeats):
            for policy in policies:
                model, batch = models[policy]
                start = time.perf_counter()
                model.fit(*data, batch_size=batch, epochs=1, verbose=0)
                samples[policy].append((time.perf_counter() - start) / args.steps * 1000)
        base = statistics.median(samples["float32"])
        results["workloads"][workload] = {
            p: {"median_ms": statistics.median(s), "min_ms": min(s), "max_ms": max(s),
                "speedup_vs_float32": base / statistics.median(s)}
            for p, s in samples.items()
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"Keras {results['keras']} ({backend}) on {', '.join(devices)}")
    for workload, rows in results["workloads"].items():
        for policy, r in rows.items():
            print(f"{workload:<5} {policy:<15} {r['median_ms']:8.2f} ms/step "
                  f"({r['min_ms']:.2f}-{r['max_ms']:.2f})  {r['speedup_vs_float32']:.2f}x vs float32")


if __name__ == "__main__":
    main()
