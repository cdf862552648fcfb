# Scenario "eager" (KRS601): training steps/s with compile(run_eagerly=True) vs the default compiled tf.function.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

SPECS = {
    "steps": c.Param("int", 100, quick=30, lo=5, hi=10_000, help="training steps per measured epoch"),
    "batch_size": c.Param("int", 32, lo=1, hi=4096),
    "input_dim": c.Param("int", 64, lo=1, hi=4096),
    "widths": c.Param("int_list", [256, 256], lo=1, hi=4096, max_len=16),
    "reps": c.Param("int", 5, quick=3, lo=1, hi=50),
    "warmup": c.Param("int", 1, lo=0, hi=10),
}


def body():
    req = c.read_request(SPECS)
    p = req.params
    c.progress(1, None, "importing TensorFlow")
    tf, keras = c.import_tf()
    import numpy as np

    n = p["steps"] * p["batch_size"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, p["input_dim"])).astype("float32")
    y = rng.integers(0, 10, size=(n,)).astype("int32")

    def make(run_eagerly):
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((p["input_dim"],))]
                             + [keras.layers.Dense(w, activation="relu") for w in p["widths"]]
                             + [keras.layers.Dense(10)])
        m.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=run_eagerly)
        return m

    eager_model, compiled_model = make(True), make(False)

    def measure(model):
        def run():
            timer = c.epoch_timer(keras)
            model.fit(x, y, batch_size=p["batch_size"], epochs=1, shuffle=False, verbose=0, callbacks=[timer])
            return p["steps"] / timer.durations[-1]
        return run

    labels = {"before": "before: compile(run_eagerly=True)", "after": "after: compiled (default)"}
    variants = [("before", measure(eager_model)), ("after", measure(compiled_model))]
    prog = c.Progress(len(variants) * (p["warmup"] + p["reps"]))
    samples = c.interleave(variants, p["reps"], p["warmup"], prog)
    rows = [c.row(labels[k], samples[k], k) for k, _ in variants]
    b, a = rows[0]["median"], rows[1]["median"]
    summary = f"compiled: {c.factor_phrase(b, a, True, 'steps/s')}, {c.fmt(b)} \u2192 {c.fmt(a)}"
    notes = [
        f"Each sample is one epoch of {p['steps']} steps (batch {p['batch_size']}, "
        f"{p['input_dim']}-{'-'.join(map(str, p['widths']))}-10 MLP, Adam); variants interleaved "
        f"\u00d7 {p['reps']} after {p['warmup']} warm-up round(s), so tracing is excluded.",
        "run_eagerly=True runs every step op by op in Python: useful for debugging, slow for training. "
        "On a GPU the gap is usually larger, since per-op dispatch dominates short steps.",
    ]
    noisy = c.spread_note(rows)
    if noisy:
        notes.append(noisy)
    c.finish(
        scenario="eager", title="Eager vs compiled training steps", metric="training steps/s",
        unit="steps/s", higher_is_better=True, rows=rows, before=labels["before"], after=labels["after"],
        summary=summary, request=req, notes=notes,
        figures={"steps_per_s_eager": b, "steps_per_s_compiled": a},
    )


if __name__ == "__main__":
    c.main(body)
