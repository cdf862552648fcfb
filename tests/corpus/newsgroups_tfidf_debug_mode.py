# Purpose: tf.keras MLPs on 20 Newsgroups TF-IDF features, left half in "debug mode"; a probabilities model, a logits model and a one-vs-rest binary head.
import argparse

import numpy as np
import tensorflow as tf
from sklearn.datasets import fetch_20newsgroups
from sklearn.feature_extraction.text import TfidfVectorizer

parser = argparse.ArgumentParser()
parser.add_argument("--debug", action="store_true")
parser.add_argument("--epochs", type=int, default=8)
args = parser.parse_args()

NUM_CLASSES = 20
N_FEATURES = 5000

train = fetch_20newsgroups(subset="train", remove=("headers", "footers", "quotes"))
test = fetch_20newsgroups(subset="test", remove=("headers", "footers", "quotes"))
vectorizer = TfidfVectorizer(max_features=N_FEATURES, sublinear_tf=True, stop_words="english")
x_train = vectorizer.fit_transform(train.data).toarray().astype("float32")
x_test = vectorizer.transform(test.data).toarray().astype("float32")
y_train, y_test = train.target, test.target
tf.config.run_functions_eagerly(args.debug)

# --- model A: softmax probabilities (the first version, kept for comparison) ---
probs_model = tf.keras.Sequential([
    tf.keras.Input(shape=(N_FEATURES,)),
    tf.keras.layers.Dense(512, activation="relu"),
    tf.keras.layers.Dropout(0.5),
    tf.keras.layers.Dense(NUM_CLASSES, activation="softmax"),
])
probs_model.compile(
    optimizer=tf.keras.optimizers.Adam(1e-3),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
    run_eagerly=True,
)
probs_model.fit(x_train, y_train, validation_split=0.1, epochs=args.epochs, batch_size=128, verbose=2)

# --- model B: raw logits, the numerically stable variant ---
logits_model = tf.keras.Sequential([
    tf.keras.Input(shape=(N_FEATURES,)),
    tf.keras.layers.Dense(512, activation="relu"),
    tf.keras.layers.Dropout(0.5),
    tf.keras.layers.Dense(NUM_CLASSES),
])
logits_model.compile(
    optimizer=tf.keras.optimizers.Adam(1e-3),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    run_eagerly=args.debug,
)
logits_model.fit(x_train, y_train, validation_split=0.1, epochs=args.epochs, batch_size=128, verbose=2)

# --- model C: is the post about sport? (rec.sport.* vs everything else) ---
sport_ids = [i for i, name in enumerate(train.target_names) if name.startswith("rec.sport")]
is_sport_train = np.isin(y_train, sport_ids).astype("float32")
is_sport_test = np.isin(y_test, sport_ids).astype("float32")
sport_model = tf.keras.Sequential([
    tf.keras.Input(shape=(N_FEATURES,)),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(1, activation="sigmoid"),
])
sport_model.compile(
    optimizer="adam",
    loss=tf.keras.losses.BinaryCrossentropy(from_logits=False),
    metrics=[tf.keras.metrics.AUC()],
    run_eagerly=False,
)
sport_model.fit(x_train, is_sport_train, epochs=3, batch_size=128, verbose=2)

for name, model, y in [("probs", probs_model, y_test), ("logits", logits_model, y_test)]:
    _, acc = model.evaluate(x_test, y, verbose=0)
    print(f"{name:6s} test accuracy {acc:.3f}")
print("sport AUC", sport_model.evaluate(x_test, is_sport_test, verbose=0)[1])
