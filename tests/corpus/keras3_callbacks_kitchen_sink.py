# Purpose: Keras 3 Fashion-MNIST CNN with a kitchen-sink callback list: step checkpoints, TensorBoard, a custom batch-hook logger, LambdaCallback, CSV log.
import datetime
import json
import os

import numpy as np
import keras
from keras import layers

RUN = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
LOG_DIR = os.path.join("logs", RUN)
CKPT_DIR = os.path.join("checkpoints", RUN)


class LearningRateLogger(keras.callbacks.Callback):
    """Appends the learning rate and loss every `every` batches to a JSON-lines file."""

    def __init__(self, path, every=10):
        super().__init__()
        self.path = path
        self.every = every
        self._fh = None

    def on_train_begin(self, logs=None):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every:
            return
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._fh.write(json.dumps({"batch": batch, "lr": lr, "loss": float(logs["loss"])}) + "\n")

    def on_train_end(self, logs=None):
        self._fh.close()


def build_model():
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ])


(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train[..., None].astype("float32") / 255.0
x_test = x_test[..., None].astype("float32") / 255.0

model = build_model()
schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9)
model.compile(
    optimizer=keras.optimizers.Adam(schedule),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)

callbacks = [
    keras.callbacks.ModelCheckpoint(
        filepath=os.path.join(CKPT_DIR, "step-{epoch:02d}-{batch:05d}.weights.h5"),
        save_weights_only=True,
        save_freq=50,
    ),
    keras.callbacks.ModelCheckpoint(
        filepath=os.path.join(CKPT_DIR, "best.keras"),
        monitor="val_accuracy",
        save_best_only=True,
    ),
    keras.callbacks.TensorBoard(
        log_dir=LOG_DIR,
        update_freq=20,
        histogram_freq=5,
        write_images=True,
    ),
    keras.callbacks.CSVLogger(os.path.join(LOG_DIR, "epochs.csv"), separator=",", append=True),
    keras.callbacks.LambdaCallback(
        on_batch_end=lambda batch, logs: batch % 500 or print(f"  batch {batch}: loss {logs['loss']:.4f}")
    ),
    LearningRateLogger(os.path.join(LOG_DIR, "lr.jsonl")),
    keras.callbacks.TerminateOnNaN(),
]

history = model.fit(
    x_train,
    y_train,
    validation_split=0.1,
    epochs=12,
    batch_size=64,
    callbacks=callbacks,
)
test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy {test_acc:.4f}")
np.savez(os.path.join(LOG_DIR, "history.npz"), **{k: np.array(v) for k, v in history.history.items()})
