# Purpose: Keras 2 -> Keras 3 port of a float16 regression trainer that still asks for a static loss scale; includes an ablation with the default dynamic scale.
import argparse

import numpy as np
import tensorflow as tf
import keras
from keras import layers

keras.mixed_precision.set_global_policy("mixed_float16")


def make_data(n=50_000, d=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    w = rng.normal(size=(d, 1)).astype("float32") / np.sqrt(d)
    y = np.tanh(x @ w) + 0.05 * rng.normal(size=(n, 1)).astype("float32")
    return x, y.astype("float32")


def build(d):
    inputs = keras.Input(shape=(d,))
    x = layers.Dense(512, activation="gelu")(inputs)
    x = layers.LayerNormalization()(x)
    x = layers.Dense(512, activation="gelu")(x)
    outputs = layers.Dense(1, dtype="float32")(x)
    return keras.Model(inputs, outputs)


def make_optimizer(kind):
    if kind == "static":
        # the Keras 2 recipe we used to run with: a fixed scale of 4096
        return keras.mixed_precision.LossScaleOptimizer(
            keras.optimizers.Adam(3e-4),
            dynamic=False,
            initial_scale=4096,
        )
    if kind == "static-default":
        return keras.mixed_precision.LossScaleOptimizer(keras.optimizers.Adam(3e-4), dynamic=False)
    return keras.mixed_precision.LossScaleOptimizer(keras.optimizers.Adam(3e-4))


def train(kind, epochs=5, batch=512):
    x, y = make_data()
    ds = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x))
        .batch(batch)
        .prefetch(tf.data.AUTOTUNE)
    )
    model = build(x.shape[1])
    optimizer = make_optimizer(kind)
    mse = keras.losses.MeanSquaredError()

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = mse(yb, model(xb, training=True))
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    for epoch in range(epochs):
        losses = [float(step(xb, yb)) for xb, yb in ds]
        print(f"[{kind}] epoch {epoch + 1}: mse {np.mean(losses):.5f}")
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["static", "static-default", "dynamic"], default="static")
    args = ap.parse_args()
    train(args.kind)
