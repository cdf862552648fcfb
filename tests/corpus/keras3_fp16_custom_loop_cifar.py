# Purpose: Keras 3 functional VGG-style CNN on CIFAR-10, switched to mixed_float16 "for speed" and trained with a hand-written GradientTape loop.
import time

import numpy as np
import tensorflow as tf
import keras
from keras import layers, mixed_precision

mixed_precision.set_global_policy("mixed_float16")

BATCH = 128
EPOCHS = 15
AUTOTUNE = tf.data.AUTOTUNE


def build(num_classes=10):
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    for filters in (64, 128, 256):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


(x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
train_ds = (
    tf.data.Dataset.from_tensor_slices((x_train, y_train))
    .shuffle(50_000)
    .batch(BATCH, drop_remainder=True)
    .prefetch(AUTOTUNE)
)
test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(512)

model = build()
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy()
train_loss = keras.metrics.Mean()
train_acc = keras.metrics.SparseCategoricalAccuracy()
test_acc = keras.metrics.SparseCategoricalAccuracy()


@tf.function(jit_compile=True)
def train_step(images, labels):
    with tf.GradientTape() as tape:
        probs = model(images, training=True)
        loss = loss_fn(labels, probs)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    train_loss.update_state(loss)
    train_acc.update_state(labels, probs)


@tf.function
def test_step(images, labels):
    test_acc.update_state(labels, model(images, training=False))


for epoch in range(EPOCHS):
    t0 = time.time()
    for metric in (train_loss, train_acc, test_acc):
        metric.reset_state()
    for images, labels in train_ds:
        train_step(images, labels)
    for images, labels in test_ds:
        test_step(images, labels)
    print(
        f"epoch {epoch + 1:2d} loss {float(train_loss.result()):.4f} "
        f"acc {float(train_acc.result()):.4f} test acc {float(test_acc.result()):.4f} "
        f"{time.time() - t0:.1f}s"
    )

model.save("cifar_fp16.keras")
np.save("test_probs.npy", model.predict(x_test, batch_size=512, verbose=0))
