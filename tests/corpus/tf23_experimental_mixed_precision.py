# Purpose: TF 2.3-era tf.keras CIFAR-10 script using the experimental mixed-precision API, a graph-rewrite mode and an optional custom loop.
import argparse

import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.mixed_precision import experimental as mixed_precision

parser = argparse.ArgumentParser()
parser.add_argument("--mode", choices=["keras", "graph_rewrite", "fp32"], default="keras")
parser.add_argument("--custom-loop", action="store_true")
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()

if args.mode == "keras":
    policy = mixed_precision.Policy("mixed_float16", loss_scale="dynamic")
    mixed_precision.set_policy(policy)
    print("Compute dtype: %s" % policy.compute_dtype)
    print("Variable dtype: %s" % policy.variable_dtype)
    print("Loss scale: %s" % policy.loss_scale)

(x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
x_train = x_train.astype("float32") / 255.0
x_test = x_test.astype("float32") / 255.0


def build_model():
    return keras.Sequential([
        layers.Conv2D(64, 3, padding="same", activation="relu", input_shape=(32, 32, 3)),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(128, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dense(10),
        # the softmax stays in float32 so that the outputs are numerically stable
        layers.Activation("softmax", dtype="float32"),
    ])


def make_ds(x, y, training):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(10000)
    return ds.batch(128).prefetch(tf.data.experimental.AUTOTUNE)


train_ds = make_ds(x_train, y_train, True)
test_ds = make_ds(x_test, y_test, False)
model = build_model()

if args.mode == "graph_rewrite":
    # pre-2.4 alternative: let grappler rewrite the graph to float16
    opt = tf.train.experimental.enable_mixed_precision_graph_rewrite(keras.optimizers.Adam())
else:
    opt = keras.optimizers.Adam()

if not args.custom_loop:
    model.compile(loss="sparse_categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    tensorboard = keras.callbacks.TensorBoard(log_dir="./logs", profile_batch=2)
    model.fit(train_ds, epochs=args.epochs, validation_data=test_ds, callbacks=[tensorboard])
else:
    opt = mixed_precision.LossScaleOptimizer(opt, loss_scale="dynamic")
    loss_object = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            predictions = model(x)
            loss = loss_object(y, predictions)
            scaled_loss = opt.get_scaled_loss(loss)
        scaled_gradients = tape.gradient(scaled_loss, model.trainable_variables)
        gradients = opt.get_unscaled_gradients(scaled_gradients)
        opt.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    for epoch in range(args.epochs):
        epoch_loss = tf.keras.metrics.Mean()
        for x, y in train_ds:
            epoch_loss.update_state(train_step(x, y))
        print("epoch", epoch, "loss", epoch_loss.result().numpy())

test_loss, test_acc = model.evaluate(test_ds, verbose=2) if not args.custom_loop else (None, None)
print("test accuracy:", test_acc)
