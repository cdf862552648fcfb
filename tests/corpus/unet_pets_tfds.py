# Purpose: tf.keras functional U-Net for Oxford-IIIT Pet segmentation from tfds, with N(0, 0.02) conv-BN blocks and a small ReLU refinement head.
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow.keras import layers as L

AUTOTUNE = tf.data.AUTOTUNE
SIZE = 128
BATCH = 32
N_CLASSES = 3  # pet, background, outline

NORMAL_002 = tf.random_normal_initializer(mean=0.0, stddev=0.02)


def load_pair(example):
    image = tf.image.resize(example["image"], (SIZE, SIZE)) / 255.0
    mask = tf.image.resize(example["segmentation_mask"], (SIZE, SIZE), method="nearest")
    return image, tf.cast(mask, tf.int32) - 1


def flip_pair(image, mask):
    flip = tf.random.uniform(()) > 0.5
    image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
    mask = tf.cond(flip, lambda: tf.image.flip_left_right(mask), lambda: mask)
    return image, mask


def conv_bn(x, filters, strides=1, transpose=False):
    conv = L.Conv2DTranspose if transpose else L.Conv2D
    x = conv(filters, 3, strides=strides, padding="same", use_bias=False, kernel_initializer=NORMAL_002)(x)
    x = L.BatchNormalization()(x)
    return L.Activation("relu")(x)


def unet(n_classes=N_CLASSES):
    inputs = tf.keras.Input(shape=(SIZE, SIZE, 3))
    skips = []
    x = inputs
    for filters in (32, 64, 128, 256):
        x = conv_bn(x, filters)
        skips.append(x)
        x = conv_bn(x, filters, strides=2)
    x = conv_bn(x, 512)
    for filters, skip in zip((256, 128, 64, 32), reversed(skips)):
        x = conv_bn(x, filters, strides=2, transpose=True)
        x = L.Concatenate()([x, skip])
        x = conv_bn(x, filters)
    # refinement head
    x = L.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=tf.random_normal_initializer())(x)
    x = L.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=tf.random_normal_initializer())(x)
    outputs = L.Conv2D(n_classes, 1, padding="same")(x)
    return tf.keras.Model(inputs, outputs, name="unet")


def main(epochs=20):
    train_raw, info = tfds.load("oxford_iiit_pet", split="train", with_info=True)
    test_raw = tfds.load("oxford_iiit_pet", split="test")
    steps = info.splits["train"].num_examples // BATCH

    train_ds = (
        train_raw.map(load_pair, num_parallel_calls=AUTOTUNE)
        .cache()
        .shuffle(1000)
        .batch(BATCH)
        .map(flip_pair, num_parallel_calls=AUTOTUNE)
        .prefetch(AUTOTUNE)
        .repeat()
    )
    test_ds = test_raw.map(load_pair).batch(BATCH)

    model = unet()
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_ds, epochs=epochs, steps_per_epoch=steps, validation_data=test_ds, verbose=2)
    model.save("unet_pets.keras")


if __name__ == "__main__":
    main()
