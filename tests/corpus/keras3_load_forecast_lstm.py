# Purpose: Keras 3 LSTM forecaster for hourly electricity load: pandas features, timeseries_dataset_from_array and a walk-forward forecast loop.
import numpy as np
import pandas as pd
import keras
from keras import layers

LOOKBACK = 168  # one week of hourly readings
HORIZON = 24
BATCH = 64


def load_frame(path):
    df = pd.read_csv(path, parse_dates=["timestamp"], index_col="timestamp").asfreq("h")
    df["load_mw"] = df["load_mw"].interpolate(limit=3)
    df["is_holiday"] = df["holiday"].map({"Y": 1.0, "N": 0.0}).fillna(0.0)
    df["hour_sin"] = np.sin(2 * np.pi * df.index.hour / 24)
    df["hour_cos"] = np.cos(2 * np.pi * df.index.hour / 24)
    df["dow_sin"] = np.sin(2 * np.pi * df.index.dayofweek / 7)
    df["dow_cos"] = np.cos(2 * np.pi * df.index.dayofweek / 7)
    return df.dropna(subset=["load_mw", "temp_c"])


FEATURES = ["load_mw", "temp_c", "is_holiday", "hour_sin", "hour_cos", "dow_sin", "dow_cos"]


def make_ds(values, start, end, shuffle):
    # target: the load one hour after each window
    return keras.utils.timeseries_dataset_from_array(
        data=values[:-1],
        targets=values[LOOKBACK:, 0],
        sequence_length=LOOKBACK,
        batch_size=BATCH,
        shuffle=shuffle,
        start_index=start,
        end_index=end,
    )


def build(n_features):
    inputs = keras.Input(shape=(LOOKBACK, n_features))
    x = layers.LSTM(64, return_sequences=True)(inputs)
    x = layers.LSTM(32)(x)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


def walk_forward(model, history, future_exog, mean, std):
    """Forecast HORIZON steps, feeding each prediction back as the next load input."""
    window = history[-LOOKBACK:].copy()
    preds = []
    for step in range(HORIZON):
        y_hat = float(model(window[None, ...], training=False)[0, 0])
        preds.append(y_hat * std[0] + mean[0])
        nxt = np.concatenate([[y_hat], future_exog[step]])
        window = np.vstack([window[1:], nxt])
    return np.array(preds)


def main(path="load_hourly.csv", epochs=15):
    df = load_frame(path)
    values = df[FEATURES].to_numpy("float32")
    n = len(values)
    train_end, val_end = int(0.7 * n), int(0.85 * n)
    mean, std = values[:train_end].mean(axis=0), values[:train_end].std(axis=0) + 1e-6
    values = (values - mean) / std

    train_ds = make_ds(values, 0, train_end, shuffle=True)
    val_ds = make_ds(values, train_end, val_end, shuffle=False)

    model = build(len(FEATURES))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", metrics=["mae"])
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=[keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)],
        verbose=2,
    )
    val_pred = model.predict(val_ds, verbose=0).ravel() * std[0] + mean[0]
    print("val predictions:", val_pred[:5].round(1))

    exog = values[val_end:val_end + HORIZON, 1:]
    forecast = walk_forward(model, values[:val_end], exog, mean, std)
    actual = values[val_end:val_end + HORIZON, 0] * std[0] + mean[0]
    print("24h MAPE: %.2f%%" % (100 * np.mean(np.abs(forecast - actual) / actual)))
    model.save("load_lstm.keras")


if __name__ == "__main__":
    main()
