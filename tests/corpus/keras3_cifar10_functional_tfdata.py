# Purpose: Keras 3 functional residual CNN on CIFAR-10 fed by a tf.data pipeline in the recommended order (map, cache, shuffle, batch, augment, prefetch).
import math

import numpy as np
import tensorflow as tf
import keras
from keras import layers

AUTOTUNE = tf.data.AUTOTUNE
BATCH_SIZE = 128
EPOCHS = 30
NUM_CLASSES = 10


def normalize(image, label):
    image = tf.cast(image, tf.float32) / 255.0
    return image, tf.squeeze(tf.cast(label, tf.int32))


def augment(images, labels):
    # batched augmentation: pad + random crop, then a horizontal flip
    images = tf.image.resize_with_crop_or_pad(images, 36, 36)
    images = tf.image.random_crop(images, size=[tf.shape(images)[0], 32, 32, 3])
    images = tf.image.random_flip_left_right(images)
    return images, labels


def make_datasets(x_train, y_train, x_test, y_test):
    train = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .map(normalize, num_parallel_calls=AUTOTUNE)
        .cache()
        .shuffle(10_000, reshuffle_each_iteration=True)
        .batch(BATCH_SIZE, drop_remainder=True)
        .map(augment, num_parallel_calls=AUTOTUNE)
        .prefetch(AUTOTUNE)
    )
    test = (
        tf.data.Dataset.from_tensor_slices((x_test, y_test))
        .map(normalize, num_parallel_calls=AUTOTUNE)
        .batch(256)
        .cache()
        .prefetch(AUTOTUNE)
    )
    return train, test


def residual_block(x, filters, stride=1):
    shortcut = x
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
    x = layers.BatchNormalization()(x)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    x = layers.Add()([x, shortcut])
    return layers.ReLU()(x)


def build_model():
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(32, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for filters, stride in [(32, 1), (64, 2), (64, 1), (128, 2), (128, 1)]:
        x = residual_block(x, filters, stride)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(NUM_CLASSES)(x)  # logits
    return keras.Model(inputs, outputs, name="small_resnet")


def main():
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    train_ds, test_ds = make_datasets(x_train, y_train, x_test, y_test)
    steps_per_epoch = math.floor(len(x_train) / BATCH_SIZE)

    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=1e-3, decay_steps=steps_per_epoch * EPOCHS, alpha=1e-2
    )
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=5e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
        steps_per_execution=32,
    )
    model.fit(
        train_ds,
        validation_data=test_ds,
        epochs=EPOCHS,
        callbacks=[
            keras.callbacks.ModelCheckpoint("checkpoints/resnet_cifar.keras", save_best_only=True, monitor="val_acc"),
            keras.callbacks.TensorBoard(log_dir="logs/resnet_cifar", update_freq="epoch", profile_batch=0),
        ],
        verbose=2,
    )
    logits = model.predict(test_ds, verbose=0)
    print("test accuracy:", np.mean(np.argmax(logits, axis=1) == y_test.squeeze()))


if __name__ == "__main__":
    main()
