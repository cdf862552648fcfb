# Scenario "pipeline" (KRS301-304): steps/s and input-bound fraction of a tf.data pipeline shaped like the user's, with and without prefetch / num_parallel_calls.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

OPS = ("map", "map_parallel", "batch", "shuffle", "cache", "prefetch", "interleave",
       "interleave_parallel", "repeat", "take", "filter", "unbatch", "other")
SIMULATED = {"map", "map_parallel", "batch", "shuffle", "cache", "prefetch", "interleave",
             "interleave_parallel"}

SPECS = {
    "steps": c.Param("str_list", ["map", "batch"], choices=OPS, max_len=32,
                     help="the pipeline's transformations in order; *_parallel = has num_parallel_calls"),
    "map_cost_ms": c.Param("float", 0.5, lo=0.0, hi=200.0,
                           help="simulated Python cost of each map call (per element before batch)"),
    "read_cost_ms": c.Param("float", 0.5, lo=0.0, hi=200.0,
                            help="simulated cost of reading one element inside interleave"),
    "batch_size": c.Param("int", 32, lo=1, hi=4096),
    "model_width": c.Param("int", 1024, lo=1, hi=8192, help="hidden units of the 2-layer MLP being fed"),
    "shuffle_buffer": c.Param("int", 1000, lo=1, hi=1_000_000),
    "train_steps": c.Param("int", 60, quick=15, lo=5, hi=10_000, help="batches per measured epoch"),
    "reps": c.Param("int", 5, quick=3, lo=1, hi=50),
    "warmup": c.Param("int", 1, lo=0, hi=10),
}


def body():
    req = c.read_request(SPECS)
    p = req.params
    c.progress(1, None, "importing TensorFlow")
    tf, keras = c.import_tf()
    import numpy as np

    autotune = tf.data.AUTOTUNE
    bs = p["batch_size"]
    n = p["train_steps"] * bs
    rng = np.random.default_rng(0)
    x_all = rng.standard_normal((n, 64)).astype("float32")
    y_all = rng.integers(0, 10, size=(n,)).astype("int32")
    map_s = p["map_cost_ms"] / 1000.0
    read_s = p["read_cost_ms"] / 1000.0

    def slow(seconds):
        def fn(x):
            time.sleep(seconds)  # releases the GIL, like I/O or a C-extension decode
            return x
        return fn

    def py_map(seconds):
        def apply(x, y):
            out = tf.py_function(slow(seconds), [x], tf.float32)
            out.set_shape(x.shape)
            return out, y
        return apply

    ignored = sorted({op for op in p["steps"] if op not in SIMULATED})
    shards = 8

    def build(ops, options=None):
        ops = [op for op in ops if op in SIMULATED]
        has_batch = "batch" in ops
        if ops and ops[0].startswith("interleave"):
            per = n // shards
            xs = tf.constant(x_all)
            ys = tf.constant(y_all)

            def shard(i):
                idx = tf.data.Dataset.range(per).map(lambda j: i * per + j)
                return idx.map(lambda k: (tf.gather(xs, k), tf.gather(ys, k))).map(py_map(read_s))

            par = autotune if ops[0] == "interleave_parallel" else None
            ds = tf.data.Dataset.range(shards).interleave(shard, cycle_length=4, num_parallel_calls=par)
            ops = ops[1:]
        else:
            ds = tf.data.Dataset.from_tensor_slices((x_all, y_all))
        for op in ops:
            if op == "map":
                ds = ds.map(py_map(map_s))
            elif op == "map_parallel":
                ds = ds.map(py_map(map_s), num_parallel_calls=autotune)
            elif op == "batch":
                ds = ds.batch(bs)
            elif op == "shuffle":
                ds = ds.shuffle(p["shuffle_buffer"], seed=0)
            elif op == "cache":
                ds = ds.cache()
            elif op == "prefetch":
                ds = ds.prefetch(autotune)
            # interleave in the middle of a chain is simulated at the source (see notes)
        if not has_batch:
            ds = ds.batch(bs)
        if options is not None:
            ds = ds.with_options(options)
        return ds

    keras.utils.set_random_seed(0)
    hid = p["model_width"]
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(hid, activation="relu"),
                              keras.layers.Dense(hid, activation="relu"), keras.layers.Dense(10)])
    opt = keras.optimizers.Adam()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    input_bound = {}

    def measure(name, ds):
        input_bound[name] = []

        def run():
            waited = 0.0
            steps = 0
            loss = None
            t0 = time.perf_counter()
            it = iter(ds)
            while True:
                w0 = time.perf_counter()
                try:
                    xb, yb = next(it)
                except StopIteration:
                    break
                waited += time.perf_counter() - w0
                loss = train_step(xb, yb)
                steps += 1
            if loss is not None:
                float(loss)
            total = time.perf_counter() - t0
            input_bound[name].append(waited / total if total > 0 else None)
            return steps / total if total > 0 else None
        return run

    def model_only():
        xb = tf.constant(x_all[:bs])
        yb = tf.constant(y_all[:bs])

        def run():
            t0 = time.perf_counter()
            loss = None
            for _ in range(p["train_steps"]):
                loss = train_step(xb, yb)
            float(loss)
            return p["train_steps"] / (time.perf_counter() - t0)
        return run

    user = list(p["steps"])
    core = [op for op in user if op != "prefetch"]
    parallel = ["map_parallel" if op == "map" else "interleave_parallel" if op == "interleave" else op
                for op in core] + ["prefetch"]
    no_inject = tf.data.Options()
    no_inject.experimental_optimization.inject_prefetch = False
    shape = " \u2192 ".join(user) if user else "(no transformations)"
    variants = [("model only", model_only()),
                ("no prefetch at all", measure("no prefetch at all", build(core, no_inject))),
                ("before", measure("before", build(user)))]
    has_prefetch_only_row = user[-1:] != ["prefetch"]
    if has_prefetch_only_row:
        variants.append(("+ prefetch", measure("+ prefetch", build(core + ["prefetch"]))))
    variants.append(("after", measure("after", build(parallel))))

    prog = c.Progress(len(variants) * (p["warmup"] + p["reps"]))
    samples = c.interleave(variants, p["reps"], p["warmup"], prog)
    for name in input_bound:
        input_bound[name] = input_bound[name][-p["reps"]:]

    labels = {
        "model only": "model only (data in memory)",
        "no prefetch at all": "no prefetch at all (inject_prefetch=False)",
        "before": f"before: {shape}",
        "+ prefetch": "+ prefetch(AUTOTUNE)",
        "after": "after: num_parallel_calls=AUTOTUNE + prefetch",
    }
    rows = []
    for name, _ in variants:
        rows.append(c.row(labels[name], samples[name],
                          name if name in ("before", "after") else None))
    med = {name: c.stats(samples[name])["median"] for name, _ in variants}
    ib = {name: c.stats(v)["median"] for name, v in input_bound.items()}
    b, a = med["before"], med["after"]
    extra = ""
    if has_prefetch_only_row and med.get("+ prefetch") and b:
        extra = f"; prefetch alone: {med['+ prefetch'] / b:.1f}\u00d7"
    summary = (f"num_parallel_calls + prefetch: {c.factor_phrase(b, a, True, 'steps/s')}, "
               f"{c.fmt(b)} \u2192 {c.fmt(a)}{extra}; input-bound {c.fmt(100 * ib['before'], 2)}% "
               f"\u2192 {c.fmt(100 * ib['after'], 2)}%")
    notes = [
        f"Pipeline shape: {shape}. Each map is simulated by a Python function (tf.py_function) that waits "
        f"{p['map_cost_ms']} ms per call; TF never parallelizes such maps by itself.",
        f"Each sample is one full epoch of {p['train_steps']} batches of {bs} through a 64-{hid}-{hid}-10 MLP "
        "(custom tf.function train step); input-bound = share of the epoch spent waiting for the next batch.",
        "TF >= 2.12 injects a prefetch after a synchronous last transformation (inject_prefetch), so a "
        "missing .prefetch() alone costs little there; compare 'no prefetch at all' with 'before'.",
        "CPU caveat: the model and tf.data share the same cores here, so overlap gains are coarse; "
        "on an accelerator host the input pipeline matters more.",
    ]
    noisy = c.spread_note(rows)
    if noisy:
        notes.append(noisy)
    if "interleave" in user or "interleave_parallel" in user:
        notes.append(f"interleave is simulated at the source: {shards} shards, cycle_length=4, "
                     f"{p['read_cost_ms']} ms per element read.")
    if "cache" in user:
        notes.append("cache: after the warm-up epoch the cached part is read from memory, so only the "
                     "transformations after .cache() cost time in the measured epochs.")
    if ignored:
        notes.append(f"Not simulated (no cost modelled): {', '.join(ignored)}.")
    if "batch" not in user:
        notes.append(f"No .batch() in the shape: batches of {bs} were added at the end.")
    details = [c.table("Input-bound fraction (median)", ["variant", "input-bound %"],
                       [[labels[n], c.fmt(100 * ib[n], 3)] for n, _ in variants if n in ib])]
    c.finish(
        scenario="pipeline", title="tf.data input pipeline throughput", metric="training steps/s",
        unit="steps/s", higher_is_better=True, rows=rows, before=labels["before"],
        after=labels["after"], summary=summary, request=req, notes=notes, details=details,
        figures={"steps_per_s_before": b, "steps_per_s_after": a,
                 "steps_per_s_model_only": med["model only"],
                 "steps_per_s_no_prefetch": med["no prefetch at all"],
                 "steps_per_s_prefetch_only": med.get("+ prefetch"),
                 "input_bound_before": ib["before"], "input_bound_after": ib["after"]},
    )


if __name__ == "__main__":
    c.main(body)
