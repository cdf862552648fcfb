# Purpose: a Keras 3 script saved mid-edit: the first half is valid, then an unfinished def header breaks the parse (robustness; not meant to compile).
import numpy as np
import keras
from keras import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[..., None].astype("float32") / 255.0
x_test = x_test[..., None].astype("float32") / 255.0

checkpoint = keras.callbacks.ModelCheckpoint(
    "mnist_cnn.weights.h5",
    save_weights_only=True,
    save_freq=1,
)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dropout(0.5),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def evaluate(model, x, y
    loss, acc = model.evaluate(x, y, verbose=0)
    print(f"loss={loss:.4f} acc={acc:.4f}")
    return acc


tensorboard = keras.callbacks.TensorBoard("logs/mnist_cnn", update_freq="batch")
history = model.fit(
    x_train,
    y_train,
    validation_split=0.1,
    epochs=5,
    batch_size=64,
    callbacks=[checkpoint, tensorboard],
    verbose=2,
)
evaluate(model, x_test, y_test)
np.save("history_acc.npy", np.array(history.history["accuracy"]))


# TODO: confusion matrix once evaluate() is fixed
preds = model.predict(x_test, batch_size=256, verbose=0).argmax(axis=1)
confusion = np.zeros((10, 10), dtype=int)
for t, p in zip(y_test, preds):
    confusion[t, p] += 1
print(confusion)
