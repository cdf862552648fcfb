# Purpose: Keras 3 CIFAR-100 trainer tuned for throughput: steps_per_execution, callbacks set at or above the logging thresholds, a batch-hook callback.
import os
import time

import numpy as np
import keras
from keras import layers

STEPS_PER_EXECUTION = 100
OUT = "runs/cifar100"


class ThroughputMeter(keras.callbacks.Callback):
    """Prints images/second; with steps_per_execution the batch hook fires every 100 steps."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size
        self._t = None
        self._last = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()
        self._last = 0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        steps = batch + 1 - self._last
        if steps >= STEPS_PER_EXECUTION:
            print(f"  {steps * self.batch_size / (now - self._t):.0f} img/s")
            self._t, self._last = now, batch + 1


def build():
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for filters in (64, 128, 256):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(100, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def main(batch_size=256, epochs=40):
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar100.load_data()
    model = build()
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
        jit_compile=True,
    )
    callbacks = [
        keras.callbacks.TensorBoard(
            log_dir=os.path.join(OUT, "tb"),
            update_freq=100,
            histogram_freq=10,
            write_images=False,
            profile_batch=0,
            embeddings_freq=0,
        ),
        keras.callbacks.ModelCheckpoint(os.path.join(OUT, "latest.weights.h5"), save_weights_only=True, save_freq=500),
        keras.callbacks.ModelCheckpoint(os.path.join(OUT, "frequent.weights.h5"), save_weights_only=True, save_freq=100),
        keras.callbacks.BackupAndRestore(os.path.join(OUT, "backup")),
        keras.callbacks.CSVLogger(os.path.join(OUT, "log.csv")),
        ThroughputMeter(batch_size),
    ]
    model.fit(
        x_train,
        y_train,
        validation_data=(x_test, y_test),
        batch_size=batch_size,
        epochs=epochs,
        callbacks=callbacks,
        verbose=2,
    )
    probs = model.predict(x_test, batch_size=batch_size, verbose=0)
    top5 = np.mean([y in p for y, p in zip(y_test.ravel(), np.argsort(-probs, axis=1)[:, :5])])
    print(f"top-5 accuracy: {top5:.3f}")


if __name__ == "__main__":
    main()
