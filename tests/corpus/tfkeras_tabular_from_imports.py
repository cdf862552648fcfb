# Purpose: tf.keras functional model for bank-marketing tabular data written with from-imports (Dense, Model, callbacks) and the `K` backend alias.
import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.keras import backend as K
from tensorflow.keras.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint
from tensorflow.keras.layers import (
    Activation,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
)
from tensorflow.keras.models import Model
from tensorflow.keras.optimizers import Adam

CATEGORICAL = ["state", "product", "channel"]
NUMERIC = ["age", "income", "balance", "num_products", "tenure"]


def fit_vocabularies(df):
    return {c: {v: i + 1 for i, v in enumerate(sorted(df[c].dropna().unique()))} for c in CATEGORICAL}


def prepare(df, vocabularies, stats):
    df = df.copy()
    for col in CATEGORICAL:
        df[col] = df[col].map(vocabularies[col]).fillna(0).astype("int32")
    df["income"] = np.log1p(df["income"].clip(lower=0))
    mean, std = stats
    df[NUMERIC] = (df[NUMERIC] - mean) / (std + 1e-9)
    inputs = {c: df[c].to_numpy() for c in CATEGORICAL}
    inputs["numeric"] = df[NUMERIC].to_numpy("float32")
    return inputs, df["target"].to_numpy("float32")


def build_model(vocabularies, embed_dim=8):
    cat_inputs, embedded = [], []
    for col in CATEGORICAL:
        inp = Input(shape=(1,), name=col, dtype="int32")
        emb = Embedding(len(vocabularies[col]) + 1, embed_dim, name=f"{col}_emb")(inp)
        cat_inputs.append(inp)
        embedded.append(Flatten()(emb))
    num_input = Input(shape=(len(NUMERIC),), name="numeric")

    x = Concatenate()(embedded + [num_input])
    x = Dense(128, kernel_initializer="random_normal", use_bias=False)(x)
    x = BatchNormalization()(x)
    x = Activation("relu")(x)
    x = Dropout(0.2)(x)
    x = Dense(64, activation="relu", kernel_initializer="he_normal")(x)
    x = Dropout(0.2)(x)
    output = Dense(1, activation="sigmoid", kernel_initializer="he_normal", name="target")(x)
    return Model(inputs=cat_inputs + [num_input], outputs=output)


def main():
    train = pd.read_csv("data/bank_train.csv")
    valid = pd.read_csv("data/bank_valid.csv")
    vocabularies = fit_vocabularies(train)
    num = train[NUMERIC].assign(income=np.log1p(train["income"].clip(lower=0)))
    stats = (num.mean(), num.std())
    x_train, y_train = prepare(train, vocabularies, stats)
    x_valid, y_valid = prepare(valid, vocabularies, stats)

    K.clear_session()
    tf.random.set_seed(7)
    model = build_model(vocabularies)
    model.compile(optimizer=Adam(3e-4), loss="binary_crossentropy", metrics=["AUC"])

    callbacks = [
        EarlyStopping(monitor="val_auc", mode="max", patience=4, restore_best_weights=True),
        ModelCheckpoint("artifacts/tabular.weights.h5", save_weights_only=True, save_freq=25),
        CSVLogger("artifacts/tabular_log.csv"),
    ]
    model.fit(
        x_train,
        y_train,
        validation_data=(x_valid, y_valid),
        epochs=30,
        batch_size=256,
        callbacks=callbacks,
        verbose=2,
    )

    proba = model.predict(x_valid, batch_size=1024, verbose=0).ravel()
    top = np.argsort(-proba)[:20]
    print(pd.DataFrame({"score": proba[top], "label": y_valid[top]}))


if __name__ == "__main__":
    main()
