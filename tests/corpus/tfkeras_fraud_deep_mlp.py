# Purpose: tf.keras deep MLP for an imbalanced fraud-detection table (Parquet + pandas), with class weights, an initial output bias and TensorBoard.
import argparse
import os

import numpy as np
import pandas as pd
import tensorflow as tf

FEATURES = ["amount", "hour", "merchant_risk", "velocity_1h", "velocity_24h", "account_age", "device_score"]
RISK_TABLE = {"gambling": 0.9, "crypto": 0.8, "electronics": 0.4, "travel": 0.3, "grocery": 0.1}


def load(path):
    df = pd.read_parquet(path)
    df["hour"] = df["timestamp"].dt.hour
    df["merchant_risk"] = df["merchant_category"].map(RISK_TABLE).fillna(0.5)
    df["amount"] = np.log1p(df["amount"])
    x = df[FEATURES].to_numpy(dtype="float32")
    y = df["is_fraud"].to_numpy(dtype="float32")
    return x, y


def standardize(train, *others):
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    return [(a - mean) / std for a in (train, *others)]


def build_model(n_features, output_bias):
    model = tf.keras.Sequential([
        tf.keras.layers.Input(shape=(n_features,)),
        tf.keras.layers.Dense(512, activation="relu", kernel_initializer="random_normal"),
        tf.keras.layers.Dense(512, activation="relu", kernel_initializer="random_normal"),
        tf.keras.layers.Dense(256, activation="relu", kernel_initializer="random_normal"),
        tf.keras.layers.Dense(256, activation="relu", kernel_initializer="random_normal"),
        tf.keras.layers.Dropout(0.3),
        tf.keras.layers.Dense(128, activation="relu", kernel_initializer="random_normal"),
        tf.keras.layers.Dense(128, activation="relu", kernel_initializer="random_normal"),
        tf.keras.layers.Dense(64, activation="relu", kernel_initializer="random_normal"),
        tf.keras.layers.Dense(32, activation="relu", kernel_initializer="random_normal"),
        tf.keras.layers.Dense(
            1,
            activation="sigmoid",
            bias_initializer=tf.keras.initializers.Constant(output_bias),
        ),
    ])
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", default="data/train.parquet")
    parser.add_argument("--valid", default="data/valid.parquet")
    parser.add_argument("--logdir", default="logs/fraud")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    x_train, y_train = load(args.train)
    x_valid, y_valid = load(args.valid)
    x_train, x_valid = standardize(x_train, x_valid)

    pos = y_train.sum()
    neg = len(y_train) - pos
    initial_bias = np.log(pos / neg)
    class_weight = {0: 0.5 * len(y_train) / neg, 1: 0.5 * len(y_train) / pos}
    print(f"positives: {int(pos)} / {len(y_train)}  initial bias {initial_bias:.3f}")

    model = build_model(x_train.shape[1], initial_bias)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3),
        loss="binary_crossentropy",
        metrics=[tf.keras.metrics.AUC(name="auc", curve="PR"), tf.keras.metrics.Recall(name="recall")],
    )

    callbacks = [
        tf.keras.callbacks.TensorBoard(
            log_dir=args.logdir,
            histogram_freq=1,
            update_freq="batch",
        ),
        tf.keras.callbacks.CSVLogger(os.path.join(args.logdir, "training.csv"), append=True),
        tf.keras.callbacks.ModelCheckpoint(
            os.path.join(args.logdir, "best.keras"),
            monitor="val_auc",
            mode="max",
            save_best_only=True,
            save_freq="epoch",
        ),
        tf.keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=5, restore_best_weights=True),
    ]

    model.fit(
        x_train,
        y_train,
        batch_size=2048,
        epochs=args.epochs,
        validation_data=(x_valid, y_valid),
        class_weight=class_weight,
        callbacks=callbacks,
        verbose=2,
    )
    print(model.evaluate(x_valid, y_valid, batch_size=4096, return_dict=True, verbose=0))


if __name__ == "__main__":
    main()
