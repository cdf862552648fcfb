# Purpose: tf.keras transfer learning (EfficientNetB0) on an image folder, trained with compile/fit under mixed_float16 and then fine-tuned.
import argparse
import pathlib

import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers, mixed_precision

mixed_precision.set_global_policy("mixed_float16")

IMG_SIZE = (224, 224)
AUTOTUNE = tf.data.AUTOTUNE


def load_splits(data_dir, batch_size):
    common = dict(image_size=IMG_SIZE, batch_size=batch_size, seed=1337, validation_split=0.2)
    train_ds = keras.utils.image_dataset_from_directory(data_dir, subset="training", **common)
    val_ds = keras.utils.image_dataset_from_directory(data_dir, subset="validation", **common)
    return train_ds, val_ds, train_ds.class_names


def build_model(num_classes, dropout=0.3):
    augment = keras.Sequential(
        [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1)],
        name="augment",
    )
    base = keras.applications.EfficientNetB0(include_top=False, weights="imagenet", input_shape=IMG_SIZE + (3,))
    base.trainable = False

    inputs = keras.Input(shape=IMG_SIZE + (3,))
    x = augment(inputs)
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(num_classes)(x)
    # keep the softmax in float32, as the mixed precision guide recommends
    outputs = layers.Activation("softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs), base


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data_dir", type=pathlib.Path)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--fine-tune-epochs", type=int, default=5)
    args = p.parse_args()

    train_ds, val_ds, class_names = load_splits(args.data_dir, args.batch_size)
    print("classes:", class_names)

    model, base = build_model(len(class_names))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, verbose=2)

    # fine-tune the top of the backbone with a small learning rate
    base.trainable = True
    for layer in base.layers[:-40]:
        layer.trainable = False
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    model.compile(
        optimizer=keras.optimizers.Adam(1e-5),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=args.epochs + args.fine_tune_epochs,
        initial_epoch=args.epochs,
        callbacks=[keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)],
        verbose=2,
    )
    model.save("efficientnet_finetuned.keras")


if __name__ == "__main__":
    main()
