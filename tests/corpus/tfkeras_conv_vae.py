# Purpose: tf.keras convolutional VAE on MNIST as a subclassed Model with a custom train_step, a reparameterisation layer and a latent-grid plot.
import numpy as np
import tensorflow as tf
import matplotlib.pyplot as plt

LATENT = 2


class Sampling(tf.keras.layers.Layer):
    """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I)."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = tf.random.normal(shape=tf.shape(z_mean))
        return z_mean + tf.exp(0.5 * z_log_var) * eps


def build_encoder():
    inputs = tf.keras.Input(shape=(28, 28, 1))
    x = tf.keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    x = tf.keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(16, activation="relu")(x)
    z_mean = tf.keras.layers.Dense(LATENT, name="z_mean")(x)
    # start with small log-variances so the KL term does not dominate the first steps
    z_log_var = tf.keras.layers.Dense(
        LATENT, kernel_initializer=tf.keras.initializers.RandomNormal(stddev=0.001), name="z_log_var"
    )(x)
    z = Sampling()([z_mean, z_log_var])
    return tf.keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder():
    latent = tf.keras.Input(shape=(LATENT,))
    x = tf.keras.layers.Dense(7 * 7 * 64, activation="relu")(latent)
    x = tf.keras.layers.Reshape((7, 7, 64))(x)
    x = tf.keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = tf.keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    outputs = tf.keras.layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")(x)
    return tf.keras.Model(latent, outputs, name="decoder")


class VAE(tf.keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total = tf.keras.metrics.Mean(name="loss")
        self.recon = tf.keras.metrics.Mean(name="reconstruction")
        self.kl = tf.keras.metrics.Mean(name="kl")

    @property
    def metrics(self):
        return [self.total, self.recon, self.kl]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data, training=True)
            recon = self.decoder(z, training=True)
            bce = tf.keras.losses.binary_crossentropy(data, recon)
            recon_loss = tf.reduce_mean(tf.reduce_sum(bce, axis=(1, 2)))
            kl = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
            kl_loss = tf.reduce_mean(tf.reduce_sum(kl, axis=1))
            loss = recon_loss + kl_loss
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total.update_state(loss)
        self.recon.update_state(recon_loss)
        self.kl.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


def plot_latent_grid(decoder, n=15, scale=2.0, path="vae_grid.png"):
    grid = np.linspace(-scale, scale, n)
    zs = np.array([[xi, yi] for yi in grid[::-1] for xi in grid], dtype="float32")
    digits = decoder(zs, training=False).numpy().reshape(n, n, 28, 28)
    canvas = digits.transpose(0, 2, 1, 3).reshape(n * 28, n * 28)
    plt.figure(figsize=(8, 8))
    plt.imshow(canvas, cmap="Greys_r")
    plt.axis("off")
    plt.savefig(path, bbox_inches="tight")


if __name__ == "__main__":
    (x_train, _), (x_test, _) = tf.keras.datasets.mnist.load_data()
    mnist = np.concatenate([x_train, x_test], axis=0)
    mnist = np.expand_dims(mnist, -1).astype("float32") / 255.0

    vae = VAE(build_encoder(), build_decoder())
    vae.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
    vae.fit(mnist, epochs=30, batch_size=128, verbose=2)
    plot_latent_grid(vae.decoder)
