# Purpose: Keras 3 WGAN-GP as a subclassed keras.Model with an overridden train_step, trained by fit() with a sample-saving Callback.
import os

import numpy as np
import tensorflow as tf
import keras
from keras import layers

IMG_SHAPE = (28, 28, 1)
NOISE_DIM = 128
BATCH_SIZE = 64


def critic_model():
    inp = keras.Input(shape=IMG_SHAPE)
    x = layers.ZeroPadding2D(2)(inp)
    for filters in (64, 128, 256):
        x = layers.Conv2D(filters, 5, strides=2, padding="same", kernel_initializer="he_normal")(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    out = layers.Dense(1)(x)
    return keras.Model(inp, out, name="critic")


def generator_model():
    noise = keras.Input(shape=(NOISE_DIM,))
    x = layers.Dense(4 * 4 * 256, use_bias=False)(noise)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((4, 4, 256))(x)
    for filters in (128, 64):
        x = layers.UpSampling2D()(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.UpSampling2D()(x)
    x = layers.Conv2D(1, 3, padding="same", activation="tanh")(x)
    x = layers.Cropping2D(2)(x)
    return keras.Model(noise, x, name="generator")


class WGANGP(keras.Model):
    def __init__(self, critic, generator, critic_steps=5, gp_weight=10.0):
        super().__init__()
        self.critic = critic
        self.generator = generator
        self.critic_steps = critic_steps
        self.gp_weight = gp_weight
        self.c_loss_tracker = keras.metrics.Mean(name="c_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.c_loss_tracker, self.g_loss_tracker]

    def compile(self, c_optimizer, g_optimizer):
        super().compile()
        self.c_optimizer = c_optimizer
        self.g_optimizer = g_optimizer

    def gradient_penalty(self, real, fake):
        batch = tf.shape(real)[0]
        alpha = tf.random.uniform([batch, 1, 1, 1], 0.0, 1.0)
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            pred = self.critic(mixed, training=True)
        grads = tape.gradient(pred, [mixed])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
        return tf.reduce_mean((norm - 1.0) ** 2)

    def train_step(self, real):
        batch = tf.shape(real)[0]
        for _ in range(self.critic_steps):
            noise = tf.random.normal([batch, NOISE_DIM])
            with tf.GradientTape() as tape:
                fake = self.generator(noise, training=True)
                fake_score = self.critic(fake, training=True)
                real_score = self.critic(real, training=True)
                c_loss = tf.reduce_mean(fake_score) - tf.reduce_mean(real_score)
                c_loss += self.gp_weight * self.gradient_penalty(real, fake)
            c_grads = tape.gradient(c_loss, self.critic.trainable_variables)
            self.c_optimizer.apply_gradients(zip(c_grads, self.critic.trainable_variables))

        noise = tf.random.normal([batch, NOISE_DIM])
        with tf.GradientTape() as tape:
            fake = self.generator(noise, training=True)
            g_loss = -tf.reduce_mean(self.critic(fake, training=True))
        g_grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))

        self.c_loss_tracker.update_state(c_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}


class SampleSaver(keras.callbacks.Callback):
    def __init__(self, out_dir="samples", every=5, n=16):
        super().__init__()
        self.out_dir = out_dir
        self.every = every
        self.noise = keras.random.normal((n, NOISE_DIM), seed=7)

    def on_train_begin(self, logs=None):
        os.makedirs(self.out_dir, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images = self.model.generator(self.noise, training=False)
        images = keras.ops.convert_to_numpy((images + 1.0) * 127.5).astype(np.uint8)
        for i, img in enumerate(images):
            keras.utils.save_img(os.path.join(self.out_dir, f"e{epoch + 1:03d}_{i:02d}.png"), img)


def main(epochs=30):
    (x_train, _), _ = keras.datasets.mnist.load_data()
    x_train = (x_train.astype("float32") - 127.5) / 127.5
    x_train = x_train[..., None]

    gan = WGANGP(critic_model(), generator_model())
    gan.compile(
        c_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
    )
    gan.fit(x_train, batch_size=BATCH_SIZE, epochs=epochs, callbacks=[SampleSaver()], verbose=2)
    gan.generator.save("wgan_generator.keras")


if __name__ == "__main__":
    main()
