# Purpose: tf.keras MobileNetV2 fine-tune fed from gzipped TFRecord shards (list_files + interleave) with a Pillow decode via numpy_function.
import argparse
import io

import numpy as np
import tensorflow as tf
from PIL import Image

AUTOTUNE = tf.data.AUTOTUNE
IMG = 160

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/label": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64, default_value=0),
}


def parse(serialized):
    ex = tf.io.parse_single_example(serialized, FEATURES)
    return ex["image/encoded"], ex["image/label"]


def _decode_with_pillow(buf):
    # some shards contain CMYK JPEGs and WebP files that tf.io.decode_image rejects
    img = Image.open(io.BytesIO(buf)).convert("RGB").resize((IMG, IMG))
    return np.asarray(img, dtype=np.float32) / 255.0


def decode(encoded, label):
    image = tf.numpy_function(_decode_with_pillow, [encoded], tf.float32)
    image.set_shape((IMG, IMG, 3))
    return image, label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="gs://my-bucket/products/train-*.tfrecord.gz")
    ap.add_argument("--val", default="gs://my-bucket/products/val-*.tfrecord.gz")
    ap.add_argument("--num-classes", type=int, default=120)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=12)
    args = ap.parse_args()

    files = tf.data.Dataset.list_files(args.train, shuffle=True, seed=0)
    train_ds = files.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
        cycle_length=8,
        block_length=4,
    )
    train_ds = (
        train_ds.map(parse, num_parallel_calls=AUTOTUNE)
        .shuffle(4096)
        .map(decode)
        .batch(args.batch_size, drop_remainder=True)
        .prefetch(2)
    )

    val_ds = tf.data.TFRecordDataset(tf.io.gfile.glob(args.val), compression_type="GZIP", num_parallel_reads=AUTOTUNE)
    val_ds = val_ds.map(parse, num_parallel_calls=AUTOTUNE)
    val_ds = val_ds.map(decode, num_parallel_calls=AUTOTUNE)
    val_ds = val_ds.batch(args.batch_size)

    base = tf.keras.applications.MobileNetV2(input_shape=(IMG, IMG, 3), include_top=False, weights="imagenet")
    base.trainable = False
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(IMG, IMG, 3)),
        tf.keras.layers.Rescaling(2.0, offset=-1.0),  # [0, 1] -> [-1, 1] for MobileNetV2
        base,
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(args.num_classes),
    ])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[tf.keras.callbacks.ModelCheckpoint("ckpt/mobilenet_{epoch:02d}.keras")],
        verbose=2,
    )


if __name__ == "__main__":
    main()
