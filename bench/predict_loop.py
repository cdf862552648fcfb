# Scenario "predict_loop" (KRS402): per-sample model.predict in a loop vs model(x, training=False) vs one batched predict.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

SPECS = {
    "n_samples": c.Param("int", 200, quick=25, lo=2, hi=100_000, help="samples predicted per measurement"),
    "input_dim": c.Param("int", 64, lo=1, hi=4096),
    "widths": c.Param("int_list", [256, 256], lo=1, hi=4096, max_len=16),
    "batch_size": c.Param("int", 32, lo=1, hi=4096, help="batch_size of the batched predict"),
    "reps": c.Param("int", 5, quick=3, lo=1, hi=50),
    "warmup": c.Param("int", 1, lo=0, hi=10),
}


def body():
    req = c.read_request(SPECS)
    p = req.params
    c.progress(1, None, "importing TensorFlow")
    tf, keras = c.import_tf()
    import numpy as np

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((p["input_dim"],))]
                             + [keras.layers.Dense(w, activation="relu") for w in p["widths"]]
                             + [keras.layers.Dense(10)])
    n = p["n_samples"]
    x = np.random.default_rng(0).standard_normal((n, p["input_dim"])).astype("float32")

    def per_sample_predict():
        t0 = time.perf_counter()
        for i in range(n):
            model.predict(x[i:i + 1], verbose=0)
        return n / (time.perf_counter() - t0)

    def per_sample_call():
        t0 = time.perf_counter()
        for i in range(n):
            model(x[i:i + 1], training=False).numpy()
        return n / (time.perf_counter() - t0)

    def batched_predict():
        t0 = time.perf_counter()
        model.predict(x, batch_size=p["batch_size"], verbose=0)
        return n / (time.perf_counter() - t0)

    labels = {"before": "before: model.predict(x[i:i+1]) per sample",
              "call": "model(x[i:i+1], training=False) per sample",
              "after": f"after: one model.predict(x, batch_size={p['batch_size']})"}
    variants = [("before", per_sample_predict), ("call", per_sample_call), ("after", batched_predict)]
    prog = c.Progress(len(variants) * (p["warmup"] + p["reps"]))
    samples = c.interleave(variants, p["reps"], p["warmup"], prog)
    rows = [c.row(labels[k], samples[k], k if k != "call" else None) for k, _ in variants]
    med = {k: c.stats(samples[k])["median"] for k, _ in variants}
    summary = (f"one batched predict: {c.factor_phrase(med['before'], med['after'], True, 'samples/s')}, "
               f"{c.fmt(med['before'])} \u2192 {c.fmt(med['after'])}; model(x) per sample: "
               f"{c.fmt(med['call'])} samples/s")
    notes = [
        f"{n} samples through a {p['input_dim']}-{'-'.join(map(str, p['widths']))}-10 MLP per measurement; "
        f"variants interleaved \u00d7 {p['reps']} after {p['warmup']} warm-up round(s).",
        "predict() builds a data adapter and runs a predict loop on every call, so calling it per sample "
        "pays that overhead each time; model(x, training=False) avoids it for small inputs, and one batched "
        "predict (or model(x) on a batch) amortizes it.",
    ]
    noisy = c.spread_note(rows)
    if noisy:
        notes.append(noisy)
    c.finish(
        scenario="predict_loop", title="Inference in a Python loop", metric="samples/s",
        unit="samples/s", higher_is_better=True, rows=rows, before=labels["before"],
        after=labels["after"], summary=summary, request=req, notes=notes,
        figures={"samples_per_s_predict_loop": med["before"], "samples_per_s_call_loop": med["call"],
                 "samples_per_s_batched": med["after"]},
    )


if __name__ == "__main__":
    c.main(body)
