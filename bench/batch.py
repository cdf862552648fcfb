# Scenario "batch" (KRS401): throughput and peak memory per batch size, up to the user's value, and the largest size that fits.
import math
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

SPECS = {
    "batch_size": c.Param("int", 1024, lo=1, hi=65536, help="the batch size from the code"),
    "sizes": c.Param("int_list", None, lo=1, hi=65536, max_len=16,
                     help="explicit batch sizes to measure (default: 32 ... batch_size)"),
    "image_size": c.Param("int", 32, lo=8, hi=512),
    "steps": c.Param("int", 5, quick=3, lo=1, hi=100, help="timed steps per batch size"),
    "memory_budget": c.Param("float", 0.5, lo=0.05, hi=0.9,
                             help="skip sizes predicted to need more than this share of free memory"),
}


def default_sizes(target, quick):
    if target <= 32:
        return sorted({1, target} | ({8} if target > 8 else set()))
    if quick:
        mid = 2 ** round(math.log2(math.sqrt(32 * target)))
        return sorted({32, mid, target})
    sizes = {32, target}
    s = 64
    while s < target:
        sizes.add(s)
        s *= 2
    return sorted(sizes)


def gpu_total_mib():
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return float(out.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def linear_fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var
    return my - k * mx, k


def body():
    req = c.read_request(SPECS)
    p = req.params
    target = p["batch_size"]
    sizes = sorted(set(p["sizes"] or default_sizes(target, req.quick)) | {target})
    if p["sizes"] is None:
        req.sources["sizes"] = "derived from batch_size"
    p["sizes"] = sizes
    c.progress(1, None, "importing TensorFlow")
    tf, keras = c.import_tf()
    import numpy as np

    gpu = c.has_gpu()
    hw = p["image_size"]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((hw, hw, 3)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10),
    ])
    opt = keras.optimizers.Adam()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(input_signature=[tf.TensorSpec([None, hw, hw, 3], tf.float32),
                                  tf.TensorSpec([None], tf.int32)])
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    # Trace and build optimizer state on a tiny batch so the baseline includes them.
    float(train_step(tf.zeros([2, hw, hw, 3]), tf.zeros([2], tf.int32)))
    baseline = c.rss_bytes()
    avail = c.available_memory_bytes()
    prog = c.Progress(len(sizes) * (p["steps"] + 1))
    measured, skipped = [], []
    thr = {}
    mem = {}
    gpu_peak = {}
    for b in sizes:
        if len(measured) >= 2 and avail is not None:
            fit = linear_fit(measured, [mem[m] for m in measured])
            if fit is not None:
                predicted = fit[0] + fit[1] * b
                if predicted > p["memory_budget"] * avail:
                    skipped.append((b, predicted))
                    prog.done += p["steps"] + 1
                    continue
        rng = np.random.default_rng(b)
        xb = tf.constant(rng.standard_normal((b, hw, hw, 3), dtype=np.float32))
        yb = tf.constant(rng.integers(0, 10, size=(b,)).astype("int32"))
        if gpu:
            tf.config.experimental.reset_memory_stats("GPU:0")
        times = []
        with c.PeakRss() as peak:
            float(train_step(xb, yb))
            prog.step(f"batch {b}", f"batch {b}: warm-up step")
            for i in range(p["steps"]):
                t0 = time.perf_counter()
                float(train_step(xb, yb))
                times.append(time.perf_counter() - t0)
                prog.step(f"batch {b}", f"batch {b}: step {i + 1}/{p['steps']}")
        if gpu:
            gpu_peak[b] = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        mem[b] = (peak.peak - baseline) / 2**20
        thr[b] = [b / t for t in times]
        measured.append(b)
        del xb, yb

    primary = gpu_peak if gpu else mem
    unit_name = "GPU peak memory" if gpu else "peak RSS growth"
    rows = []
    for b in measured:
        variant = "before" if b == target else ("after" if b == measured[0] and b != target else None)
        rows.append(c.row(f"batch {b}", [primary[b]], variant))
    if target not in measured:
        raise RuntimeError(f"batch {target} was skipped: predicted memory exceeds "
                           f"{p['memory_budget']:.0%} of the {avail / 2**20:.0f} MiB available")
    small = measured[0]
    before_label = f"batch {target}"
    after_label = f"batch {small}"
    fitline = linear_fit(measured, [primary[m] for m in measured]) if len(measured) >= 2 else None
    largest = None
    capacity_mib = None
    if gpu:
        capacity_mib = gpu_total_mib()
    elif avail is not None:
        capacity_mib = avail / 2**20
    if fitline is not None and fitline[1] > 0 and capacity_mib is not None:
        largest = int((capacity_mib * 0.9 - fitline[0]) / fitline[1])
    thr_med = {b: c.stats(thr[b])["median"] for b in measured}
    summary = (f"batch {target}: {c.fmt(primary[target])} MiB {unit_name} vs {c.fmt(primary[small])} MiB "
               f"at {small}; {c.fmt(thr_med[target])} vs {c.fmt(thr_med[small])} samples/s")
    if largest is not None:
        summary += f"; largest batch that fits \u2248 {largest} (linear estimate)"
    details = [c.table("Throughput and memory per batch size",
                       ["batch", "samples/s (median)", "min", "max", "peak RSS growth MiB"]
                       + (["GPU peak MiB"] if gpu else []),
                       [[b, c.fmt(thr_med[b]), c.fmt(min(thr[b])), c.fmt(max(thr[b])), c.fmt(mem[b])]
                        + ([c.fmt(gpu_peak[b])] if gpu else []) for b in measured])]
    notes = [
        f"Small CNN on {hw}\u00d7{hw}\u00d73 synthetic images; {p['steps']} timed steps per size after one "
        "warm-up step; sizes run in ascending order (memory is measured, so no interleaving).",
        ("GPU memory from tf.config.experimental.get_memory_info('GPU:0')['peak'], reset per size."
         if gpu else
         "No GPU: memory is the process's peak resident memory (RSS) above the baseline, sampled every 5 ms. "
         "This shows the trend only; an out-of-memory threshold depends on the target GPU."),
        "Activation memory grows about linearly with batch size; a large batch is normal on accelerators "
        "and is not an error by itself.",
        "fit(batch_size=...) is ignored when x is a tf.data.Dataset, generator or PyDataset: set it in .batch().",
    ]
    if capacity_mib is not None and largest is not None:
        notes.append(f"Largest size: linear fit of memory vs batch size against 90% of "
                     f"{capacity_mib:.0f} MiB {'GPU memory' if gpu else 'available RAM'}.")
    for b, pred in skipped:
        notes.append(f"batch {b} skipped: predicted {pred:.0f} MiB exceeds {p['memory_budget']:.0%} of "
                     "the free memory.")
    c.finish(
        scenario="batch", title="Batch size: memory and throughput", metric=unit_name, unit="MiB",
        higher_is_better=False, rows=rows, before=before_label, after=after_label,
        summary=summary, request=req, notes=notes, details=details,
        figures={"memory_mib_target": primary[target], "memory_mib_smallest": primary[small],
                 "samples_per_s_target": thr_med[target], "samples_per_s_smallest": thr_med[small],
                 "largest_fitting_batch": largest, "baseline_rss_mib": baseline / 2**20,
                 "capacity_mib": capacity_mib},
    )


if __name__ == "__main__":
    c.main(body)
