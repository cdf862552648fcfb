# Purpose: tf.keras flower classifier with a hand-written tf.image augmentation map, a small CNN and a per-image qualitative check at the end.
import pathlib
import sys

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

AUTOTUNE = tf.data.AUTOTUNE
IMG_SIZE = 192
BATCH = 32


def load_image(path, label):
    raw = tf.io.read_file(path)
    img = tf.io.decode_jpeg(raw, channels=3)
    img = tf.image.resize(img, [IMG_SIZE, IMG_SIZE])
    return img / 255.0, label


def augment(img, label):
    img = tf.image.random_flip_left_right(img)
    img = tf.image.random_brightness(img, max_delta=0.15)
    img = tf.image.random_saturation(img, 0.8, 1.2)
    return tf.clip_by_value(img, 0.0, 1.0), label


def list_dataset(root):
    root = pathlib.Path(root)
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, labels = [], []
    for idx, name in enumerate(class_names):
        files = sorted(str(p) for p in (root / name).glob("*.jpg"))
        paths += files
        labels += [idx] * len(files)
    return np.array(paths), np.array(labels), class_names


paths, labels, class_names = list_dataset(sys.argv[1] if len(sys.argv) > 1 else "flower_photos")
perm = np.random.default_rng(0).permutation(len(paths))
paths, labels = paths[perm], labels[perm]
split = int(0.85 * len(paths))

train_ds = tf.data.Dataset.from_tensor_slices((paths[:split], labels[:split]))
train_ds = (
    train_ds.map(load_image, num_parallel_calls=AUTOTUNE)
    .map(augment, num_parallel_calls=AUTOTUNE)
    .cache()
    .shuffle(1000)
    .batch(BATCH)
    .prefetch(AUTOTUNE)
)
val_ds = (
    tf.data.Dataset.from_tensor_slices((paths[split:], labels[split:]))
    .map(load_image, num_parallel_calls=AUTOTUNE)
    .cache()
    .batch(BATCH)
    .prefetch(AUTOTUNE)
)

model = keras.Sequential([
    keras.Input(shape=(IMG_SIZE, IMG_SIZE, 3)),
    layers.RandomRotation(0.05),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(128, 3, activation="relu"),
    layers.GlobalAveragePooling2D(),
    layers.Dense(128, activation="relu"),
    layers.Dense(len(class_names), activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=15, verbose=2)

# quick qualitative check on a handful of validation images
for path, label in zip(paths[split:split + 20], labels[split:split + 20]):
    img, _ = load_image(path, label)
    probs = model.predict(img[tf.newaxis, ...], verbose=0)[0]
    name = pathlib.Path(path).name
    print(f"{name:30s} true={class_names[label]:12s} pred={class_names[int(np.argmax(probs))]} ({probs.max():.2f})")
