# Purpose: quick tf_keras regression experiment on Boston housing whose author silenced the findings they accept with noqa / keras-lsp ignore comments.
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

SEED = 3
keras.utils.set_random_seed(SEED)

(x_train, y_train), (x_val, y_val) = keras.datasets.boston_housing.load_data(seed=SEED)
mean, std = x_train.mean(axis=0), x_train.std(axis=0)
x_train = (x_train - mean) / std
x_val = (x_val - mean) / std
print(f"{len(x_train)} train / {len(x_val)} val houses")

# the random_normal kernels are intentional here: we compare against an old paper's setup
model = keras.Sequential([
    layers.Input(shape=(13,)),
    layers.Dense(64, activation="relu", kernel_initializer="random_normal"),  # noqa: KRS101
    layers.Dense(64, activation="relu", kernel_initializer="random_normal"),  # keras-lsp: ignore[KRS101]
    layers.Dense(64, activation="relu", kernel_initializer="random_normal"),  # noqa
    layers.Dense(32, activation="relu", kernel_initializer="ones"),  # noqa: KRS101
    layers.Dense(1),
])

train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(512).batch(32)  # noqa: KRS301

callbacks = [
    keras.callbacks.ModelCheckpoint("boston.weights.h5", save_weights_only=True, save_freq=5),  # noqa: KRS201
    keras.callbacks.TensorBoard("logs/boston", update_freq="batch"),  # keras-lsp: ignore[KRS202]
    keras.callbacks.ModelCheckpoint(  # noqa: KRS201
        "boston_every10.weights.h5",
        save_weights_only=True,
        save_freq=10,
    ),
    keras.callbacks.CSVLogger("logs/boston.csv"),
]

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss="mse",
    metrics=["mae"],
    run_eagerly=True,  # noqa: E501
)
history = model.fit(
    train_ds,
    validation_data=(x_val, y_val),
    epochs=100,
    callbacks=callbacks,
    verbose=0,
)

val_mae = history.history["val_mae"]
best = int(np.argmin(val_mae))
print(f"best epoch {best + 1}: val MAE {val_mae[best]:.2f} (k$)")
preds = model.predict(x_val[:5], verbose=0).ravel()
for p, t in zip(preds, y_val[:5]):
    print(f"predicted {p:6.1f}  actual {t:6.1f}")
