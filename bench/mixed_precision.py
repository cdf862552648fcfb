# Scenario "mixed_precision" (KRS501-503): share of small gradients that underflow to zero in float16 without vs with loss scaling; step time only on a GPU.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

SPECS = {
    "dtype": c.Param("str", "float16", choices=("float16", "bfloat16"),
                     help="compute dtype of the mixed policy (mixed_float16 / mixed_bfloat16)"),
    "loss_scale": c.Param("float", 32768.0, lo=1.0, hi=2.0**24, help="LossScaleOptimizer initial_scale"),
    "loss_factor": c.Param("float", 1e-5, lo=1e-12, hi=1.0,
                           help="loss = loss_factor * mean(output): how small the gradients are"),
    "widths": c.Param("int_list", [256, 256], lo=1, hi=4096, max_len=16),
    "input_dim": c.Param("int", 64, lo=1, hi=4096),
    "batch_size": c.Param("int", 64, lo=1, hi=4096),
    "seeds": c.Param("int", 5, quick=3, lo=1, hi=20),
    "gpu_steps": c.Param("int", 50, quick=20, lo=5, hi=1000, help="steps per timing sample (GPU only)"),
}


def body():
    req = c.read_request(SPECS)
    p = req.params
    c.progress(1, None, "importing TensorFlow")
    tf, keras = c.import_tf()
    import numpy as np

    policy = f"mixed_{p['dtype']}"

    def build(dtype_policy, seed):
        keras.utils.set_random_seed(seed)
        layers = [keras.Input((p["input_dim"],))]
        for w in p["widths"]:
            layers.append(keras.layers.Dense(w, activation="relu", kernel_initializer="he_normal",
                                             bias_initializer="random_normal", dtype=dtype_policy))
        layers.append(keras.layers.Dense(10, dtype=dtype_policy))
        return keras.Sequential(layers)

    def grads_of(model, x, scaler=None):
        """Gradients as float32 numpy vectors; with a LossScaleOptimizer, scaled then unscaled."""
        keras3 = scaler is not None and hasattr(scaler, "scale_loss")
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = p["loss_factor"] * tf.reduce_mean(out)
            if scaler is not None:
                loss = scaler.scale_loss(loss) if keras3 else scaler.get_scaled_loss(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        if scaler is not None and not keras3:
            grads = scaler.get_unscaled_gradients(grads)
        grads = [tf.cast(g, tf.float32) for g in grads]
        if keras3:
            # What LossScaleOptimizer.apply() does before updating: divide by the current scale.
            grads = [g / tf.cast(scaler.dynamic_scale, tf.float32) for g in grads]
        return [g.numpy().ravel() for g in grads]

    def underflow(ref, got):
        ref_all = np.concatenate(ref)
        got_all = np.concatenate(got)
        nz = ref_all != 0
        frac = float(np.mean(got_all[nz] == 0)) if nz.any() else 0.0
        err = float(np.linalg.norm(got_all - ref_all) / max(np.linalg.norm(ref_all), 1e-45))
        first_nz = ref[0] != 0
        first = float(np.mean(got[0][first_nz] == 0)) if first_nz.any() else 0.0
        return 100.0 * frac, err, 100.0 * first

    other = "bfloat16" if p["dtype"] == "float16" else "float16"
    names = ["before", "after", "other"]
    frac = {n: [] for n in names}
    err = {n: [] for n in names}
    first = {n: [] for n in names}
    prog = c.Progress(p["seeds"] * len(names), end=80.0 if c.has_gpu() else 95.0)
    for seed in range(p["seeds"]):
        rng = np.random.default_rng(seed)
        x = tf.constant(rng.standard_normal((p["batch_size"], p["input_dim"])).astype("float32"))
        ref_model = build("float32", seed)
        ref = grads_of(ref_model, x)
        for name, dtype, scaled in (("before", p["dtype"], False), ("after", p["dtype"], True),
                                    ("other", other, False)):
            m = build(f"mixed_{dtype}", seed)
            m.set_weights(ref_model.get_weights())
            scaler = None
            if scaled:
                lso = getattr(keras.optimizers, "LossScaleOptimizer", None) or \
                    keras.mixed_precision.LossScaleOptimizer
                scaler = lso(keras.optimizers.SGD(), initial_scale=p["loss_scale"])
                if hasattr(scaler, "scale_loss"):
                    scaler.build(m.trainable_variables)
            f, e, f1 = underflow(ref, grads_of(m, x, scaler))
            frac[name].append(f)
            err[name].append(e)
            first[name].append(f1)
            prog.step(name, f"seed {seed + 1}/{p['seeds']}: {dtype}{' scaled' if scaled else ''}")
        keras.backend.clear_session()

    scale_txt = f"2^{int(np.log2(p['loss_scale']))}" if float(np.log2(p["loss_scale"])).is_integer() \
        else c.fmt(p["loss_scale"])
    labels = {"before": f"before: mixed_{p['dtype']}, no loss scaling",
              "after": f"after: mixed_{p['dtype']}, loss scale {scale_txt}",
              "other": f"mixed_{other}, no loss scaling"}
    rows = [c.row(labels[n], frac[n], n if n != "other" else None) for n in names]
    med = {n: c.stats(frac[n])["median"] for n in names}
    med_err = {n: c.stats(err[n])["median"] for n in names}
    summary = (f"loss scaling ({scale_txt}): {c.fmt(med['before'], 3)}% \u2192 {c.fmt(med['after'], 3)}% "
               f"of gradients underflow to 0 in {p['dtype']}; relative error vs float32 "
               f"{c.fmt(med_err['before'])} \u2192 {c.fmt(med_err['after'])}")
    details = [c.table("Gradients vs float32 (median over seeds)",
                       ["variant", "zeroed %", "first-kernel zeroed %", "relative error"],
                       [[labels[n], c.fmt(med[n], 3), c.fmt(c.stats(first[n])["median"], 3),
                         c.fmt(med_err[n])] for n in names])]

    # What this install's API says about the KRS50x spellings.
    mp = keras.mixed_precision
    api_rows = [
        ["keras.mixed_precision.set_policy exists", str(hasattr(mp, "set_policy"))],
        ["keras.mixed_precision.set_global_policy exists", str(hasattr(mp, "set_global_policy"))],
        ["tf.keras.mixed_precision.experimental exists", str(hasattr(tf.keras.mixed_precision, "experimental"))],
    ]
    try:
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(), dynamic=False)
        api_rows.append(["LossScaleOptimizer(dynamic=False)", "accepted"])
    except Exception as e:  # noqa: BLE001 - we report whatever the install does
        api_rows.append(["LossScaleOptimizer(dynamic=False)", f"raises {type(e).__name__}"])
    soft = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax", dtype=policy)])
    soft32 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, dtype=policy),
                               keras.layers.Activation("softmax", dtype="float32")])
    z = tf.zeros((1, 4))
    api_rows.append([f"Dense(softmax) output dtype under {policy}", soft(z).dtype.name])
    api_rows.append(["with Activation('softmax', dtype='float32')", soft32(z).dtype.name])
    details.append(c.table("Mixed-precision API on this install", ["check", "result"], api_rows))

    figures = {"zero_pct_before": med["before"], "zero_pct_after": med["after"],
               "zero_pct_other": med["other"], "rel_error_before": med_err["before"],
               "rel_error_after": med_err["after"], "rel_error_other": med_err["other"]}
    notes = [
        f"Custom GradientTape step: loss = {p['loss_factor']:g} \u00d7 mean(output) of a "
        f"{p['input_dim']}-{'-'.join(map(str, p['widths']))}-10 ReLU MLP, batch {p['batch_size']}; "
        "the same float32 weights in every variant.",
        "'zeroed %' counts gradient entries that are nonzero in float32 but exactly 0 in the mixed run; "
        "numerics do not depend on the device, so this is fully meaningful on CPU.",
        "compile()/fit() wrap the optimizer in a LossScaleOptimizer automatically under mixed_float16; "
        "manual scaling is only needed in custom training loops.",
        "bfloat16 has float32's exponent range, so it does not underflow like float16 and needs no loss scaling.",
    ]
    if c.has_gpu():
        xb = tf.constant(np.random.default_rng(0).standard_normal((256, 1024)).astype("float32"))
        yb = tf.constant(np.random.default_rng(1).integers(0, 10, size=(256,)).astype("int32"))

        def timed(dtype_policy):
            keras.utils.set_random_seed(0)
            m = keras.Sequential([keras.Input((1024,))]
                                 + [keras.layers.Dense(4096, activation="relu", dtype=dtype_policy)
                                    for _ in range(4)]
                                 + [keras.layers.Dense(10, dtype=dtype_policy),
                                    keras.layers.Activation("linear", dtype="float32")])
            m.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            ds = tf.data.Dataset.from_tensors((xb, yb)).repeat(p["gpu_steps"])

            def run():
                timer = c.epoch_timer(keras)
                m.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
                return timer.durations[-1] * 1000.0 / p["gpu_steps"]
            return run

        gprog = c.Progress(4 * (1 + p["seeds"]), start=80.0, end=98.0)
        t = c.interleave([("float32", timed("float32")), (policy, timed(policy))], p["seeds"], 1, gprog)
        s32, smx = c.stats(t["float32"]), c.stats(t[policy])
        details.append(c.table("Step time on the GPU (ms per step, 4\u00d7Dense(4096), batch 256)",
                               ["policy", "median", "min", "max"],
                               [["float32", c.fmt(s32["median"]), c.fmt(s32["min"]), c.fmt(s32["max"])],
                                [policy, c.fmt(smx["median"]), c.fmt(smx["min"]), c.fmt(smx["max"])]]))
        figures["gpu_step_ms_float32"] = s32["median"]
        figures["gpu_step_ms_mixed"] = smx["median"]
        if s32["median"] and smx["median"]:
            summary += f"; GPU step time {c.fmt(s32['median'])} \u2192 {c.fmt(smx['median'])} ms"
    else:
        notes.append("Step time float32 vs mixed was NOT measured: no GPU. On a CPU float16 is slower "
                     "than float32, so a CPU timing would mislead; speed and memory gains need a GPU.")
    c.finish(
        scenario="mixed_precision", title="Mixed precision: gradient underflow and loss scaling",
        metric="gradients zeroed by underflow", unit="%", higher_is_better=False, rows=rows,
        before=labels["before"], after=labels["after"], summary=summary, request=req, notes=notes,
        details=details, figures=figures,
    )


if __name__ == "__main__":
    c.main(body)
