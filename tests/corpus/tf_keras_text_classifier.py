# Purpose: tf_keras (Keras 2) sentiment classifier on an IMDB-style folder: text_dataset_from_directory, TextVectorization, stacked BiLSTM.
import re
import string

import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

BATCH_SIZE = 32
MAX_TOKENS = 20000
SEQ_LEN = 300
AUTOTUNE = tf.data.AUTOTUNE


def standardize(text):
    lowered = tf.strings.lower(text)
    no_html = tf.strings.regex_replace(lowered, "<br />", " ")
    return tf.strings.regex_replace(no_html, "[%s]" % re.escape(string.punctuation), "")


def load(data_dir):
    split = dict(batch_size=BATCH_SIZE, validation_split=0.2, seed=42)
    raw_train = keras.utils.text_dataset_from_directory(f"{data_dir}/train", subset="training", **split)
    raw_val = keras.utils.text_dataset_from_directory(f"{data_dir}/train", subset="validation", **split)
    raw_test = keras.utils.text_dataset_from_directory(f"{data_dir}/test", batch_size=BATCH_SIZE)
    return raw_train, raw_val, raw_test


def main(data_dir="aclImdb", epochs=5):
    raw_train, raw_val, raw_test = load(data_dir)

    vectorizer = layers.TextVectorization(
        standardize=standardize,
        max_tokens=MAX_TOKENS,
        output_mode="int",
        output_sequence_length=SEQ_LEN,
    )
    vectorizer.adapt(raw_train.map(lambda text, label: text, num_parallel_calls=AUTOTUNE))

    def vectorize(text, label):
        return vectorizer(text), label

    train_ds = raw_train.map(vectorize, num_parallel_calls=AUTOTUNE).cache().prefetch(AUTOTUNE)
    val_ds = raw_val.map(vectorize, num_parallel_calls=AUTOTUNE).cache().prefetch(AUTOTUNE)
    test_ds = raw_test.map(vectorize, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)

    model = keras.Sequential([
        layers.Embedding(MAX_TOKENS + 1, 128, embeddings_initializer="random_normal", mask_zero=True),
        layers.Bidirectional(layers.LSTM(64, return_sequences=True)),
        layers.Bidirectional(layers.LSTM(32)),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(
        loss=keras.losses.BinaryCrossentropy(),
        optimizer=keras.optimizers.Adam(1e-3),
        metrics=["accuracy"],
    )
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=2)],
        verbose=2,
    )
    loss, acc = model.evaluate(test_ds, verbose=0)
    print(f"test loss {loss:.3f} accuracy {acc:.3f}")

    # an end-to-end model that accepts raw strings
    export = keras.Sequential([vectorizer, model])
    export.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    samples = tf.constant(["a wonderful, moving film", "two hours I will never get back"])
    print(export.predict(samples, verbose=0))


if __name__ == "__main__":
    main()
