# Purpose: vendored copy of an old in-house tf.keras training helper kept for reproducibility; excluded from linting with a file-level ignore.
# keras-lsp: ignore-file
#
# Do not edit: this reproduces the 2021 baseline numbers. New code lives in train_v2.py.
import tensorflow as tf
from tensorflow.keras import layers, mixed_precision


def legacy_policy():
    mixed_precision.set_policy("mixed_float16")


def legacy_model(num_classes):
    return tf.keras.Sequential([
        layers.Dense(1024, activation="relu", kernel_initializer="random_normal"),
        layers.Dense(1024, activation="relu", kernel_initializer="random_normal"),
        layers.Dense(1024, activation="relu", kernel_initializer="random_normal"),
        layers.Dense(512, activation="relu", kernel_initializer="random_normal"),
        layers.Dense(512, activation="relu", kernel_initializer="random_normal"),
        layers.Dense(256, activation="relu", kernel_initializer="random_normal"),
        layers.Dense(num_classes, activation="softmax"),
    ])


def legacy_pipeline(features, labels):
    ds = tf.data.Dataset.from_tensor_slices((features, labels))
    ds = ds.batch(64)
    ds = ds.shuffle(100)
    return ds


def legacy_callbacks(logdir):
    return [
        tf.keras.callbacks.ModelCheckpoint(logdir + "/ckpt-{batch}", save_freq=1),
        tf.keras.callbacks.TensorBoard(logdir, update_freq="batch", histogram_freq=1),
    ]


def legacy_train(features, labels, num_classes, logdir="legacy_logs"):
    legacy_policy()
    model = legacy_model(num_classes)
    model.compile(
        optimizer=tf.keras.optimizers.SGD(0.01, momentum=0.9),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,
    )
    ds = tf.data.Dataset.from_tensor_slices((features, labels)).shuffle(1000).cache().batch(64)
    model.fit(ds, epochs=10, batch_size=64, callbacks=legacy_callbacks(logdir))
    for row in features[:10]:
        print(model.predict(row[None]))
    return model


if __name__ == "__main__":
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, 32)).astype("float32")
    y = rng.integers(0, 4, size=2048)
    legacy_train(x, y, num_classes=4)
