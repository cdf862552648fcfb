# Purpose: Keras 3 multi-input listing-price model (numeric, text, photo towers) written with `import keras as K` / `layers as L`, with hand-picked initializers.
import numpy as np
import keras as K
from keras import layers as L

VOCAB = 5000
N_NUMERIC = 12
SEQ = 64


def numeric_tower(x):
    # self-normalising stack
    x = L.Dense(256, activation="selu")(x)
    x = L.AlphaDropout(0.05)(x)
    x = L.Dense(256, activation="selu", kernel_initializer="lecun_normal")(x)
    x = L.Dense(128, activation="selu", kernel_initializer="lecun_normal")(x)
    return x


def text_tower(tokens):
    x = L.Embedding(VOCAB, 64, embeddings_initializer=K.initializers.RandomNormal(stddev=0.05))(tokens)
    x = L.GlobalAveragePooling1D()(x)
    x = L.Dense(128, activation="relu", kernel_initializer=K.initializers.RandomNormal(seed=1))(x)
    x = L.Dense(128, activation=K.activations.relu, kernel_initializer=K.initializers.TruncatedNormal(seed=2))(x)
    x = L.Dense(64, activation="tanh", kernel_initializer="he_uniform")(x)
    return x


def image_tower():
    return K.Sequential(
        [
            L.Conv2D(32, 3, strides=2, padding="same", kernel_initializer="he_normal"),
            L.ReLU(),
            L.Conv2D(64, 3, strides=2, padding="same", kernel_initializer="uniform"),
            L.ReLU(),
            L.Conv2D(64, 3, strides=2, padding="same", use_bias=False, kernel_initializer=K.initializers.RandomNormal(stddev=0.02)),
            L.BatchNormalization(),
            L.ReLU(),
            L.SeparableConv2D(128, 3, padding="same", activation="relu", depthwise_initializer="random_normal"),
            L.GlobalAveragePooling2D(),
        ],
        name="image_tower",
    )


def build():
    num_in = K.Input(shape=(N_NUMERIC,), name="numeric")
    tok_in = K.Input(shape=(SEQ,), dtype="int32", name="tokens")
    img_in = K.Input(shape=(96, 96, 3), name="photo")
    merged = L.Concatenate()([numeric_tower(num_in), text_tower(tok_in), image_tower()(img_in)])
    x = L.Dense(128, activation="relu", kernel_initializer="zeros", bias_initializer=K.initializers.Constant(0.01))(merged)
    x = L.Dense(64, activation="relu", kernel_initializer="he_normal", bias_initializer="zeros")(x)
    price = L.Dense(1, name="log_price")(x)
    is_luxury = L.Dense(1, activation="sigmoid", kernel_initializer="he_normal", name="luxury")(x)
    return K.Model([num_in, tok_in, img_in], [price, is_luxury])


def fake_batch(n, rng):
    return (
        {
            "numeric": rng.normal(size=(n, N_NUMERIC)).astype("float32"),
            "tokens": rng.integers(1, VOCAB, size=(n, SEQ)).astype("int32"),
            "photo": rng.random(size=(n, 96, 96, 3)).astype("float32"),
        },
        {
            "log_price": rng.normal(12.0, 0.5, size=(n, 1)).astype("float32"),
            "luxury": (rng.random(size=(n, 1)) < 0.1).astype("float32"),
        },
    )


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x, y = fake_batch(2048, rng)
    model = build()
    model.compile(
        optimizer=K.optimizers.Adam(1e-3),
        loss={"log_price": "mse", "luxury": "binary_crossentropy"},
        loss_weights={"log_price": 1.0, "luxury": 0.3},
        metrics={"luxury": [K.metrics.AUC(name="auc")]},
    )
    model.fit(x, y, validation_split=0.2, epochs=3, batch_size=64, verbose=2)
    model.save("listing_price.keras")
