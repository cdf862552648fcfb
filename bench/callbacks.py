# Scenario "callbacks" (KRS201-203): training steps/s with the user's ModelCheckpoint/TensorBoard settings vs the fix.
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

SPECS = {
    "callback": c.Param("str", "checkpoint", choices=("checkpoint", "tensorboard")),
    "save_freq": c.Param("int", 1, lo=1, hi=1_000_000,
                         help="ModelCheckpoint(save_freq=N): save every N batches"),
    "save_weights_only": c.Param("bool", False),
    "update_freq": c.Param("int", 1, lo=1, hi=1_000_000,
                           help="TensorBoard(update_freq=N); 'batch' means 1"),
    "histogram_freq": c.Param("int", 0, lo=0, hi=1000),
    "batch_size": c.Param("int", 32, lo=1, hi=4096),
    "steps": c.Param("int", 100, quick=40, lo=5, hi=10_000, help="training steps per measured epoch"),
    "reps": c.Param("int", 5, quick=3, lo=1, hi=50),
    "warmup": c.Param("int", 1, lo=0, hi=10),
}


def body():
    req = c.read_request(SPECS)
    p = req.params
    if p["callback"] == "tensorboard":
        c.require_module("tensorboard", "the TensorBoard callback writes summaries with it")
    c.progress(1, None, "importing TensorFlow")
    tf, keras = c.import_tf()
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = p["steps"] * p["batch_size"]
    x = rng.standard_normal((n, 64)).astype("float32")
    y = rng.integers(0, 10, size=(n,)).astype("int32")
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    workdir = tempfile.mkdtemp(prefix="keras-lsp-bench-callbacks-")
    ext = ".weights.h5" if p["save_weights_only"] else ".keras"
    counter = [0]

    def fresh(name):
        counter[0] += 1
        return os.path.join(workdir, f"{name}-{counter[0]}")

    if p["callback"] == "checkpoint":
        before_label = f"ModelCheckpoint(save_freq={p['save_freq']}{', weights only' if p['save_weights_only'] else ''})"
        after_label = f"ModelCheckpoint(save_freq='epoch'{', weights only' if p['save_weights_only'] else ''})"

        def before_cbs():
            return [keras.callbacks.ModelCheckpoint(fresh("ckpt") + ext, save_freq=p["save_freq"],
                                                    save_weights_only=p["save_weights_only"])]

        def after_cbs():
            return [keras.callbacks.ModelCheckpoint(fresh("ckpt") + ext, save_freq="epoch",
                                                    save_weights_only=p["save_weights_only"])]
    else:
        hist = f", histogram_freq={p['histogram_freq']}" if p["histogram_freq"] else ""
        freq = "'batch'" if p["update_freq"] == 1 else str(p["update_freq"])
        before_label = f"TensorBoard(update_freq={freq}{hist})"
        after_label = f"TensorBoard(update_freq='epoch'{hist})"

        def before_cbs():
            return [keras.callbacks.TensorBoard(fresh("tb"), update_freq=p["update_freq"],
                                                histogram_freq=p["histogram_freq"])]

        def after_cbs():
            return [keras.callbacks.TensorBoard(fresh("tb"), update_freq="epoch",
                                                histogram_freq=p["histogram_freq"])]

    def csv_cbs():
        return [keras.callbacks.CSVLogger(fresh("log") + ".csv", append=True)]

    def measure(make_cbs):
        def run():
            timer = c.epoch_timer(keras)
            model.fit(x, y, batch_size=p["batch_size"], epochs=1, shuffle=False, verbose=0,
                      callbacks=make_cbs() + [timer])
            return p["steps"] / timer.durations[-1]
        return run

    variants = [("no callbacks", measure(list)), ("CSVLogger", measure(csv_cbs)),
                ("before", measure(before_cbs)), ("after", measure(after_cbs))]
    prog = c.Progress(len(variants) * (p["warmup"] + p["reps"]))
    try:
        samples = c.interleave(variants, p["reps"], p["warmup"], prog)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rows = [c.row("no callbacks", samples["no callbacks"]),
            c.row("CSVLogger(append=True)", samples["CSVLogger"]),
            c.row(f"before: {before_label}", samples["before"], "before"),
            c.row(f"after: {after_label}", samples["after"], "after")]
    base = rows[0]["median"]
    b, a = rows[2]["median"], rows[3]["median"]
    csv_rel = rows[1]["median"] / base if base else None
    if c.overlaps(rows[0], rows[1]):
        csv_txt = f"CSVLogger within noise of no callbacks: {c.fmt(csv_rel, 2)}\u00d7"
    else:
        csv_txt = f"CSVLogger {c.fmt(csv_rel, 2)}\u00d7 of no callbacks, ranges do not overlap"
    summary = (f"{after_label}: {c.factor_phrase(b, a, True, 'steps/s')}, {c.fmt(b)} \u2192 {c.fmt(a)} "
               f"({csv_txt})")
    notes = [
        f"Each sample is one epoch of {p['steps']} steps (batch {p['batch_size']}, 64-256-256-10 MLP, Adam), "
        "timed from epoch begin to epoch end so the callbacks' epoch-end work (saves, summaries) is included.",
        f"Variants run interleaved (no callbacks, CSVLogger, before, after) \u00d7 {p['reps']} after "
        f"{p['warmup']} warm-up round(s); medians with min\u2013max.",
        "CSVLogger only writes at epoch end (on_epoch_end/on_train_begin/on_train_end), so it should cost "
        "about nothing; its row lets you check that on your machine.",
        "On a GPU each step is shorter, so the same host-side callback overhead is a larger fraction.",
        "compile(steps_per_execution=N) also cuts per-batch callback overhead (batch hooks run every N batches).",
    ]
    noisy = c.spread_note(rows)
    if noisy:
        notes.append(noisy)
    if p["callback"] == "checkpoint" and p["save_freq"] >= p["steps"]:
        notes.append(f"save_freq={p['save_freq']} is not below the {p['steps']} steps per measured epoch, "
                     "so the 'before' run may save rarely or never here.")
    c.finish(
        scenario="callbacks", title="Callback overhead on training throughput",
        metric="training steps/s", unit="steps/s", higher_is_better=True, rows=rows,
        before=rows[2]["label"], after=rows[3]["label"], summary=summary, request=req, notes=notes,
        figures={"steps_per_s_none": base, "steps_per_s_csv": rows[1]["median"],
                 "steps_per_s_before": b, "steps_per_s_after": a,
                 "csv_relative_to_none": csv_rel,
                 "before_relative_to_none": b / base if base else None,
                 "after_relative_to_none": a / base if base else None},
    )


if __name__ == "__main__":
    c.main(body)
