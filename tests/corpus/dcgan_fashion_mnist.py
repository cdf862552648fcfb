# Purpose: DCGAN on Fashion-MNIST in tf.keras with the paper's N(0, 0.02) weight init, BatchNorm, and a hand-written two-tape train step.
import os
import time

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LATENT_DIM = 100
BATCH_SIZE = 128
EPOCHS = 50
OUT_DIR = "dcgan_samples"

# Radford et al.: every weight drawn from N(0, 0.02); BN scales start around 1
init = keras.initializers.RandomNormal(mean=0.0, stddev=0.02)
gamma_init = keras.initializers.RandomNormal(mean=1.0, stddev=0.02)


def build_generator():
    return keras.Sequential(
        [
            keras.Input(shape=(LATENT_DIM,)),
            layers.Dense(7 * 7 * 256, use_bias=False, kernel_initializer=init),
            layers.BatchNormalization(gamma_initializer=gamma_init),
            layers.LeakyReLU(0.2),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False, kernel_initializer=init),
            layers.BatchNormalization(gamma_initializer=gamma_init),
            layers.LeakyReLU(0.2),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False, kernel_initializer=init),
            layers.BatchNormalization(gamma_initializer=gamma_init),
            layers.LeakyReLU(0.2),
            layers.Conv2DTranspose(1, 5, strides=2, padding="same", activation="tanh", kernel_initializer=init),
        ],
        name="generator",
    )


def build_discriminator():
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(64, 5, strides=2, padding="same", kernel_initializer=init),
            layers.LeakyReLU(0.2),
            layers.Dropout(0.3),
            layers.Conv2D(128, 5, strides=2, padding="same", kernel_initializer=init, bias_initializer=init),
            layers.BatchNormalization(gamma_initializer=gamma_init),
            layers.LeakyReLU(0.2),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(1),
        ],
        name="discriminator",
    )


cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)


def discriminator_loss(real_logits, fake_logits):
    real = cross_entropy(tf.ones_like(real_logits) * 0.9, real_logits)  # one-sided label smoothing
    fake = cross_entropy(tf.zeros_like(fake_logits), fake_logits)
    return real + fake


def generator_loss(fake_logits):
    return cross_entropy(tf.ones_like(fake_logits), fake_logits)


generator = build_generator()
discriminator = build_discriminator()
g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)


@tf.function
def train_step(real_images):
    noise = tf.random.normal([tf.shape(real_images)[0], LATENT_DIM])
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
        fake_images = generator(noise, training=True)
        real_logits = discriminator(real_images, training=True)
        fake_logits = discriminator(fake_images, training=True)
        g_loss = generator_loss(fake_logits)
        d_loss = discriminator_loss(real_logits, fake_logits)
    g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
    g_opt.apply_gradients(zip(g_grads, generator.trainable_variables))
    d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))
    return g_loss, d_loss


def save_grid(epoch, seed):
    images = generator(seed, training=False).numpy()
    images = (images + 1.0) / 2.0
    fig, axes = plt.subplots(4, 4, figsize=(4, 4))
    for img, ax in zip(images, axes.flat):
        ax.imshow(img[..., 0], cmap="gray")
        ax.axis("off")
    fig.savefig(os.path.join(OUT_DIR, f"epoch_{epoch:03d}.png"))
    plt.close(fig)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    (train_images, _), _ = keras.datasets.fashion_mnist.load_data()
    train_images = (train_images.astype("float32") - 127.5) / 127.5
    train_images = np.expand_dims(train_images, -1)

    dataset = tf.data.Dataset.from_tensor_slices(train_images)
    dataset = dataset.shuffle(60000).batch(BATCH_SIZE, drop_remainder=True)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)

    seed = tf.random.normal([16, LATENT_DIM])
    ckpt = tf.train.Checkpoint(generator=generator, discriminator=discriminator, g_opt=g_opt, d_opt=d_opt)
    manager = tf.train.CheckpointManager(ckpt, "dcgan_ckpt", max_to_keep=3)

    for epoch in range(1, EPOCHS + 1):
        start = time.time()
        for batch in dataset:
            g_loss, d_loss = train_step(batch)
        save_grid(epoch, seed)
        if epoch % 10 == 0:
            manager.save()
        print(f"epoch {epoch}: g {float(g_loss):.3f} d {float(d_loss):.3f} ({time.time() - start:.0f}s)")


if __name__ == "__main__":
    main()
