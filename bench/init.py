# Scenario "init" (KRS101-104): activation std, gradient norms and loss after N steps, current initializer vs the fix.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

HE = ("relu", "relu6", "leaky_relu", "elu", "celu", "gelu", "silu", "swish", "mish", "hard_silu",
      "hard_swish")
GLOROT = ("tanh", "sigmoid", "hard_sigmoid", "softmax", "log_softmax", "softplus", "softsign", "linear")
LECUN = ("selu",)
ACTIVATIONS = HE + GLOROT + LECUN
INITIALIZERS = ("random_normal", "normal", "truncated_normal", "random_uniform", "uniform",
                "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
                "lecun_uniform", "orthogonal", "variance_scaling")
FIXED_SCALE = {"random_normal": "RandomNormal", "normal": "RandomNormal",
               "truncated_normal": "TruncatedNormal", "random_uniform": "RandomUniform",
               "uniform": "RandomUniform"}

SPECS = {
    "widths": c.Param("int_list", [128] * 20, lo=1, hi=4096, max_len=64,
                      help="units of each hidden layer, input to output"),
    "activation": c.Param("str", "relu", choices=ACTIVATIONS),
    "initializer": c.Param("str", "random_normal", choices=INITIALIZERS),
    "init_scale": c.Param("float", None, lo=1e-6, hi=100.0,
                          help="stddev (normal) or limit (uniform) of a fixed-scale initializer"),
    "fix_initializer": c.Param("str", None, choices=INITIALIZERS,
                               help="default: chosen from the activation"),
    "input_dim": c.Param("int", 32, lo=1, hi=4096),
    "batch_size": c.Param("int", 64, lo=2, hi=4096),
    "steps": c.Param("int", 300, quick=100, lo=1, hi=5000),
    "seeds": c.Param("int", 5, quick=2, lo=1, hi=20),
    "optimizer": c.Param("str", "sgd", choices=("sgd", "adam")),
    "learning_rate": c.Param("float", None, lo=1e-6, hi=10.0),
}


def fix_for(activation):
    if activation in LECUN:
        return "lecun_normal"
    if activation in GLOROT:
        return "glorot_uniform"
    return "he_normal"


def make_initializer(keras, name, scale, seed):
    if scale is not None and name in FIXED_SCALE:
        cls = getattr(keras.initializers, FIXED_SCALE[name])
        if cls.__name__ == "RandomUniform":
            return cls(minval=-scale, maxval=scale, seed=seed)
        return cls(stddev=scale, seed=seed)
    init = keras.initializers.get(name)
    if hasattr(init, "seed"):
        init.seed = seed
    return init


def body():
    req = c.read_request(SPECS)
    p = req.params
    widths = p["widths"]
    fix = p["fix_initializer"] or fix_for(p["activation"])
    if p["fix_initializer"] is None:
        req.sources["fix_initializer"] = f"derived from activation '{p['activation']}'"
        p["fix_initializer"] = fix
    n_params = sum(a * b for a, b in zip([p["input_dim"]] + widths, widths))
    avail = c.available_memory_bytes()
    if avail is not None and n_params * 4 * 5 > avail // 2:
        raise c.BadParams(f"a {len(widths)}-layer stack with {n_params:,} weights needs about "
                          f"{n_params * 20 // 2**20} MiB; only {avail // 2**20} MiB are available")
    lr = p["learning_rate"] or (0.01 if p["optimizer"] == "sgd" else 1e-3)
    p["learning_rate"] = lr
    c.progress(1, None, "importing TensorFlow")
    tf, keras = c.import_tf()
    import numpy as np

    before_name = p["initializer"] + (f"(scale={p['init_scale']})" if p["init_scale"] else "")
    variants = [("before", p["initializer"], p["init_scale"]), ("after", fix, None)]
    prog = c.Progress(len(variants) * p["seeds"])
    per = {v: {"loss": [], "acc": [], "std": [], "grad": []} for v, _, _ in variants}

    for seed in range(p["seeds"]):
        rng = np.random.default_rng(1000 + seed)
        teacher = rng.standard_normal((p["input_dim"], 1)).astype("float32")
        n_train = p["steps"] * p["batch_size"]
        x = rng.standard_normal((n_train, p["input_dim"])).astype("float32")
        y = (x @ teacher > 0).astype("float32")
        xt = rng.standard_normal((1024, p["input_dim"])).astype("float32")
        yt = (xt @ teacher > 0).astype("float32")
        probe = xt[:256]
        for variant, init_name, scale in variants:
            keras.utils.set_random_seed(seed)
            inputs = keras.Input((p["input_dim"],))
            h = inputs
            hidden = []
            for i, w in enumerate(widths):
                layer = keras.layers.Dense(
                    w, activation=p["activation"], name=f"hidden_{i + 1}",
                    kernel_initializer=make_initializer(keras, init_name, scale, seed * 100 + i))
                h = layer(h)
                hidden.append((layer, h))
            out = keras.layers.Dense(1, name="logit")(h)
            model = keras.Model(inputs, out)
            probe_model = keras.Model(inputs, [t for _, t in hidden] + [out])
            loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
            with tf.GradientTape() as tape:
                outs = probe_model(probe, training=False)
                loss = loss_fn(yt[:256], outs[-1])
            kernels = [layer.kernel for layer, _ in hidden]
            grads = tape.gradient(loss, kernels)
            per[variant]["std"].append([float(np.std(a.numpy())) for a in outs[:-1]])
            per[variant]["grad"].append([float(tf.norm(g)) if g is not None else 0.0 for g in grads])
            if p["optimizer"] == "sgd":
                opt = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
            else:
                opt = keras.optimizers.Adam(learning_rate=lr)
            model.compile(optimizer=opt, loss=loss_fn, metrics=["accuracy"])
            model.fit(x, y, batch_size=p["batch_size"], epochs=1, shuffle=False, verbose=0)
            ev_loss, ev_acc = model.evaluate(xt, yt, batch_size=256, verbose=0)
            per[variant]["loss"].append(float(ev_loss))
            per[variant]["acc"].append(float(ev_acc))
            prog.step(variant, f"seed {seed + 1}/{p['seeds']}: {init_name}")
            del model, probe_model
            keras.backend.clear_session()

    def med_layer(variant, key, i):
        return c.stats([s[i] for s in per[variant][key]])["median"]

    depth = len(widths)
    details_rows = []
    for i in range(depth):
        details_rows.append([i + 1, widths[i], c.fmt(med_layer("before", "std", i)),
                             c.fmt(med_layer("after", "std", i)),
                             c.fmt(med_layer("before", "grad", i)), c.fmt(med_layer("after", "grad", i))])
    g1b, g1a = med_layer("before", "grad", 0), med_layer("after", "grad", 0)
    sLb, sLa = med_layer("before", "std", depth - 1), med_layer("after", "std", depth - 1)
    lb = c.stats(per["before"]["loss"])["median"]
    la = c.stats(per["after"]["loss"])["median"]
    ab = c.stats(per["before"]["acc"])["median"]
    aa = c.stats(per["after"]["acc"])["median"]
    rows = [c.row(f"before: {before_name}", per["before"]["loss"], "before"),
            c.row(f"after: {fix}", per["after"]["loss"], "after")]
    diverged = sum(1 for v in per["before"]["loss"] if not np.isfinite(v))
    loss_txt = f"loss {c.fmt(lb)} \u2192 {c.fmt(la)}" if diverged == 0 else f"loss diverged (NaN) \u2192 {c.fmt(la)}"
    summary = (f"{fix} vs {before_name}: {loss_txt} after {p['steps']} {p['optimizer']} steps; "
               f"layer-1 gradient norm {c.fmt(g1b)} \u2192 {c.fmt(g1a)}; "
               f"layer-{depth} activation std {c.fmt(sLb)} \u2192 {c.fmt(sLa)}")
    notes = [
        f"{depth} Dense layers {sorted(set(widths))} with activation '{p['activation']}', then Dense(1) logits; "
        f"binary task with a random linear teacher, {p['input_dim']} inputs, held-out loss on 1024 samples.",
        "Statistics at initialization come from one batch of 256 held-out inputs; the medians are over "
        f"{p['seeds']} seed(s), each seed shared by both variants.",
        "Numerical scenario: results do not depend on the device, so they are fully meaningful on CPU.",
    ]
    if p["initializer"] in FIXED_SCALE and p["init_scale"] is None:
        fan = sorted(set([p["input_dim"]] + widths[:-1]))
        notes.append(f"'{p['initializer']}' has a fixed scale of 0.05 regardless of fan-in (here {fan}): "
                     "with ReLU the signal shrinks when fan-in < 800 and explodes when it is > 800.")
    if diverged:
        notes.append(f"{diverged} of {p['seeds']} 'before' run(s) diverged to NaN.")
    c.finish(
        scenario="init",
        title="Weight initialization: signal and learning at depth",
        metric=f"held-out loss after {p['steps']} steps", unit="loss", higher_is_better=False,
        rows=rows, before=rows[0]["label"], after=rows[1]["label"], summary=summary, request=req,
        notes=notes,
        details=[c.table("Per layer at initialization (median over seeds)",
                         ["layer", "units", "act std before", "act std after", "grad norm before",
                          "grad norm after"], details_rows)],
        figures={"grad_norm_first_before": g1b, "grad_norm_first_after": g1a,
                 "grad_norm_last_before": med_layer("before", "grad", depth - 1),
                 "grad_norm_last_after": med_layer("after", "grad", depth - 1),
                 "act_std_last_before": sLb, "act_std_last_after": sLa,
                 "loss_before": lb, "loss_after": la, "accuracy_before": ab, "accuracy_after": aa},
    )


if __name__ == "__main__":
    c.main(body)
