# Purpose: teaching script: a NumPy-only MLP with home-made Dense/Sequential/ModelCheckpoint classes; TensorFlow is used only to download MNIST.
import os
import pickle

import numpy as np
import tensorflow as tf


class Dense:
    """A fully connected layer, deliberately written from scratch (not keras.layers.Dense)."""

    def __init__(self, units, activation=None, kernel_initializer="random_normal", input_dim=None):
        self.units = units
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.input_dim = input_dim
        self.W = None
        self.b = np.zeros(units)

    def build(self, input_dim, rng):
        if self.kernel_initializer == "random_normal":
            self.W = rng.normal(0.0, 0.05, size=(input_dim, self.units))
        elif self.kernel_initializer == "he_normal":
            self.W = rng.normal(0.0, np.sqrt(2.0 / input_dim), size=(input_dim, self.units))
        else:
            raise ValueError(self.kernel_initializer)

    def forward(self, x):
        self.x = x
        self.z = x @ self.W + self.b
        return np.maximum(self.z, 0.0) if self.activation == "relu" else self.z

    def backward(self, grad, lr):
        if self.activation == "relu":
            grad = grad * (self.z > 0)
        dW = self.x.T @ grad / len(grad)
        db = grad.mean(axis=0)
        grad_in = grad @ self.W.T
        self.W -= lr * dW
        self.b -= lr * db
        return grad_in


class Sequential:
    def __init__(self, layers, seed=0):
        rng = np.random.default_rng(seed)
        dim = layers[0].input_dim
        for layer in layers:
            layer.build(dim, rng)
            dim = layer.units
        self.layers = layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad, lr):
        for layer in reversed(self.layers):
            grad = layer.backward(grad, lr)


class ModelCheckpoint:
    """Pickles the weights every `save_freq` steps (our own class, not the Keras callback)."""

    def __init__(self, path, save_freq=1):
        self.path = path
        self.save_freq = save_freq

    def __call__(self, step, model):
        if step % self.save_freq == 0:
            with open(self.path, "wb") as fh:
                pickle.dump([(l.W, l.b) for l in model.layers], fh)


def softmax_xent(logits, y):
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y] + 1e-12).mean()
    p[np.arange(len(y)), y] -= 1.0
    return loss, p


def main(epochs=5, batch=64, lr=0.1):
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    x_train = x_train.reshape(-1, 784) / 255.0
    x_test = x_test.reshape(-1, 784) / 255.0

    # Exercise: compare "random_normal" with "he_normal" on this deep stack.
    model = Sequential([
        Dense(256, activation="relu", kernel_initializer="random_normal", input_dim=784),
        Dense(256, activation="relu", kernel_initializer="random_normal"),
        Dense(256, activation="relu", kernel_initializer="random_normal"),
        Dense(256, activation="relu", kernel_initializer="random_normal"),
        Dense(256, activation="relu", kernel_initializer="random_normal"),
        Dense(256, activation="relu", kernel_initializer="random_normal"),
        Dense(10),
    ])
    ckpt = ModelCheckpoint(os.path.join("/tmp", "numpy_mlp.pkl"), save_freq=1)

    step = 0
    for epoch in range(epochs):
        order = np.random.permutation(len(x_train))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            loss, grad = softmax_xent(model.forward(x_train[idx]), y_train[idx])
            model.backward(grad, lr)
            ckpt(step, model)
            step += 1
        acc = (model.forward(x_test).argmax(axis=1) == y_test).mean()
        print(f"epoch {epoch}: last loss {loss:.3f} test acc {acc:.3f}")


if __name__ == "__main__":
    main()
