# Purpose: tf_keras (Keras 2) custom loop under mixed_float16 with get_scaled_loss/get_unscaled_gradients, then a fixed-loss-scale fine-tune phase.
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers, mixed_precision

mixed_precision.set_global_policy("mixed_float16")
print("compute dtype:", mixed_precision.global_policy().compute_dtype)

NUM_FEATURES = 128
NUM_CLASSES = 5


def synthetic_data(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, NUM_FEATURES)).astype("float32")
    w = rng.normal(size=(NUM_FEATURES, NUM_CLASSES))
    y = np.argmax(x @ w + 0.5 * rng.normal(size=(n, NUM_CLASSES)), axis=1)
    return x, y.astype("int64")


def build_model():
    inputs = keras.Input(shape=(NUM_FEATURES,))
    x = layers.Dense(256, activation="relu", kernel_initializer="he_normal")(inputs)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(256, activation="relu", kernel_initializer="he_normal")(x)
    x = layers.Dense(NUM_CLASSES)(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probs")(x)
    return keras.Model(inputs, outputs)


def make_train_step(model, optimizer, loss_fn):
    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            loss = loss_fn(y, probs)
            scaled_loss = optimizer.get_scaled_loss(loss)
        scaled_grads = tape.gradient(scaled_loss, model.trainable_variables)
        grads = optimizer.get_unscaled_gradients(scaled_grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return train_step


def run_phase(model, optimizer, dataset, epochs, name):
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    step_fn = make_train_step(model, optimizer, loss_fn)
    for epoch in range(epochs):
        losses = [float(step_fn(x, y)) for x, y in dataset]
        print(
            f"[{name}] epoch {epoch + 1}/{epochs} mean loss {np.mean(losses):.4f} "
            f"loss scale {float(optimizer.loss_scale):.0f}"
        )


def main():
    x, y = synthetic_data()
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=1)
        .batch(256)
        .prefetch(tf.data.AUTOTUNE)
    )
    model = build_model()

    # phase 1: dynamic loss scaling (the default)
    opt = mixed_precision.LossScaleOptimizer(keras.optimizers.Adam(1e-3))
    run_phase(model, opt, dataset, epochs=5, name="warmup")

    # phase 2: SGD with a fixed loss scale, which Keras 2 still supports
    fixed_opt = mixed_precision.LossScaleOptimizer(
        keras.optimizers.SGD(1e-2, momentum=0.9), dynamic=False, initial_scale=1024
    )
    run_phase(model, fixed_opt, dataset, epochs=3, name="finetune")
    model.save("amp_classifier_tfkeras")


if __name__ == "__main__":
    main()
