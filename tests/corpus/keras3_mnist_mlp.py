# Purpose: baseline Keras 3 MLP on MNIST from NumPy arrays, with early stopping, best-model checkpoint and a CSV log.
"""Train a small fully connected classifier on MNIST.

    python keras3_mnist_mlp.py --epochs 20 --out runs/mlp
"""
import argparse
import os

import numpy as np
import keras
from keras import layers


def load_data():
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = x_train.reshape(-1, 28 * 28).astype("float32") / 255.0
    x_test = x_test.reshape(-1, 28 * 28).astype("float32") / 255.0
    # keep the last 5k training images aside for validation
    x_val, y_val = x_train[-5000:], y_train[-5000:]
    x_train, y_train = x_train[:-5000], y_train[:-5000]
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def build_model(hidden=(512, 256), dropout=0.2):
    model = keras.Sequential(name="mnist_mlp")
    model.add(keras.Input(shape=(784,)))
    for i, units in enumerate(hidden):
        model.add(layers.Dense(units, activation="relu", kernel_initializer="he_normal", name=f"dense_{i}"))
        model.add(layers.Dropout(dropout))
    model.add(layers.Dense(10, activation="softmax", name="probs"))
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", default="runs/mlp")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(42)

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_data()
    print(f"train={x_train.shape} val={x_val.shape} test={x_test.shape}")

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=args.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    model.summary()

    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(
            os.path.join(args.out, "best.keras"), monitor="val_accuracy", save_best_only=True
        ),
        keras.callbacks.CSVLogger(os.path.join(args.out, "history.csv"), separator=",", append=False),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=1e-5),
    ]

    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=callbacks,
        verbose=2,
    )

    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"test loss {test_loss:.4f}  acc {test_acc:.4f}")
    best_epoch = int(np.argmin(history.history["val_loss"])) + 1
    print("best epoch:", best_epoch)

    probs = model.predict(x_test[:16], verbose=0)
    print("first predictions:", probs.argmax(axis=-1))
    print("labels:           ", y_test[:16])


if __name__ == "__main__":
    main()
