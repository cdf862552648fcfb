# Bundled example: a CIFAR-10 training script with the pitfalls keras-lsp finds (run `keras-lsp check examples/`).
import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

tf.keras.mixed_precision.set_policy("mixed_float16")

(x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()


def augment(image, label):
    image = tf.image.random_flip_left_right(image)
    return image, label


train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train))
train_ds = train_ds.map(augment).cache()
train_ds = train_ds.batch(64).shuffle(1000)

val_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(64)

model = keras.Sequential([
    layers.Input(shape=(32, 32, 3)),
    layers.Conv2D(32, 3, activation="relu", kernel_initializer="random_normal"),
    layers.Conv2D(64, 3, activation="relu", kernel_initializer="random_normal"),
    layers.Flatten(),
    layers.Dense(256, activation="relu", kernel_initializer="zeros"),
    layers.Dense(10, activation="softmax"),
])

model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
    run_eagerly=True,
)

callbacks = [
    keras.callbacks.ModelCheckpoint("cifar.keras", save_freq=1),
    keras.callbacks.TensorBoard(log_dir="logs", update_freq="batch", histogram_freq=1),
    keras.callbacks.CSVLogger("training.csv"),  # costs nothing: never reported
]

model.fit(train_ds, validation_data=val_ds, epochs=10, batch_size=64, callbacks=callbacks)

for image in x_test[:100]:
    prediction = model.predict(np.expand_dims(image, 0))
