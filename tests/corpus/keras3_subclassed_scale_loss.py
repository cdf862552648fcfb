# Purpose: Keras 3 subclassed CNN trained by a custom GradientTape loop under mixed_float16, with LossScaleOptimizer.scale_loss and apply().
import time

import tensorflow as tf
import keras
from keras import layers

keras.config.set_dtype_policy("mixed_float16")

AUTOTUNE = tf.data.AUTOTUNE


class ConvBlock(layers.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")
        self.bn = layers.BatchNormalization()
        self.act = layers.Activation("gelu")

    def call(self, x, training=False):
        return self.act(self.bn(self.conv(x), training=training))


class Classifier(keras.Model):
    def __init__(self, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [ConvBlock(f) for f in (32, 64, 128)]
        self.pool = layers.MaxPooling2D()
        self.gap = layers.GlobalAveragePooling2D()
        self.head = layers.Dense(num_classes, dtype="float32")  # float32 logits

    def call(self, x, training=False):
        for block in self.blocks:
            x = self.pool(block(x, training=training))
        return self.head(self.gap(x))


def make_dataset(images, labels, training):
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if training:
        ds = ds.shuffle(len(images))
    ds = ds.batch(64).map(
        lambda x, y: (tf.cast(x, tf.float32) / 255.0, y),
        num_parallel_calls=AUTOTUNE,
    )
    return ds.prefetch(AUTOTUNE)


model = Classifier()
optimizer = keras.optimizers.LossScaleOptimizer(
    keras.optimizers.AdamW(learning_rate=3e-4, weight_decay=1e-4), dynamic=True
)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc = keras.metrics.SparseCategoricalAccuracy()
val_acc = keras.metrics.SparseCategoricalAccuracy()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = loss_fn(y, logits)
        scaled_loss = optimizer.scale_loss(loss)
    grads = tape.gradient(scaled_loss, model.trainable_variables)
    # apply() unscales the gradients and skips the update when they are not finite
    optimizer.apply(grads, model.trainable_variables)
    train_acc.update_state(y, logits)
    return loss


@tf.function
def eval_step(x, y):
    logits = model(x, training=False)
    val_acc.update_state(y, logits)


def main(epochs=10):
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    train_ds = make_dataset(x_train, y_train.squeeze(), training=True)
    test_ds = make_dataset(x_test, y_test.squeeze(), training=False)

    for epoch in range(epochs):
        start = time.perf_counter()
        train_acc.reset_state()
        val_acc.reset_state()
        for step, (x, y) in enumerate(train_ds):
            loss = train_step(x, y)
            if step % 200 == 0:
                print(f"epoch {epoch} step {step} loss {float(loss):.4f}")
        for x, y in test_ds:
            eval_step(x, y)
        elapsed = time.perf_counter() - start
        print(
            f"epoch {epoch}: train acc {float(train_acc.result()):.3f} "
            f"val acc {float(val_acc.result()):.3f} ({elapsed:.1f}s)"
        )
    model.save_weights("classifier.weights.h5")


if __name__ == "__main__":
    main()
