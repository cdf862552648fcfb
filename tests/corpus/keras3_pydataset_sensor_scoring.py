# Purpose: Keras 3 activity-recognition Conv1D trained from a PyDataset and a Python generator, then used to score long sensor recordings.
import glob
import math

import numpy as np
import keras
from keras import layers

WINDOW = 256
HOP = 128
CHANNELS = 6
CLASSES = 5


class NpzBatches(keras.utils.PyDataset):
    """One .npz per labelled window: x (WINDOW, CHANNELS), y ()."""

    def __init__(self, pattern, batch_size=64, shuffle=True, **kwargs):
        super().__init__(**kwargs)
        self.files = sorted(glob.glob(pattern))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.index = np.arange(len(self.files))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.files) / self.batch_size)

    def __getitem__(self, idx):
        ids = self.index[idx * self.batch_size:(idx + 1) * self.batch_size]
        arrays = [np.load(self.files[i]) for i in ids]
        x = np.stack([a["x"] for a in arrays]).astype("float32")
        y = np.array([int(a["y"]) for a in arrays])
        return x, y

    def on_epoch_end(self):
        if self.shuffle:
            np.random.shuffle(self.index)


def windows(signal, size=WINDOW, hop=HOP):
    for start in range(0, len(signal) - size + 1, hop):
        yield signal[start:start + size]


def batch_generator(x, y, batch_size):
    while True:
        idx = np.random.randint(0, len(x), batch_size)
        yield x[idx], y[idx]


def build():
    return keras.Sequential([
        keras.Input(shape=(WINDOW, CHANNELS)),
        layers.Conv1D(64, 7, padding="same", activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(128, 5, padding="same", activation="relu"),
        layers.GlobalMaxPooling1D(),
        layers.Dense(CLASSES, activation="softmax"),
    ])


def main():
    train = NpzBatches("data/train/*.npz", batch_size=64, workers=4, use_multiprocessing=True)
    val = NpzBatches("data/val/*.npz", batch_size=128, shuffle=False)

    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, validation_data=val, epochs=20, batch_size=64, verbose=2)
    print(model.evaluate(val, batch_size=128, verbose=0))

    # adapt to one subject with a generator over their labelled recording
    rec = np.load("data/subject_17.npz")
    gen = batch_generator(rec["x"], rec["y"], 32)
    model.fit(gen, steps_per_epoch=50, epochs=3, batch_size=32, verbose=2)

    # score long recordings window by window
    for path in sorted(glob.glob("data/long/*.npy")):
        signal = np.load(path)
        scores = [model.predict(w[None, ...], verbose=0)[0] for w in windows(signal)]
        print(path, np.mean(scores, axis=0).round(3))

    # the same scoring with one forward pass per recording
    for path in sorted(glob.glob("data/long/*.npy")):
        batch = np.stack(list(windows(np.load(path))))
        probs = keras.ops.convert_to_numpy(model(batch, training=False))
        print(path, probs.mean(axis=0).round(3))

    # simulated live stream, one chunk at a time
    stream = np.load("data/stream.npy")
    t, alarms = 0, 0
    while t + WINDOW <= len(stream):
        p = model.predict(stream[None, t:t + WINDOW], verbose=0)[0]
        alarms += int(p.argmax() == 4 and p.max() > 0.9)
        t += HOP
    print("fall alarms:", alarms)

    all_val = model.predict(val, verbose=0)
    print("val predictions:", all_val.shape)


if __name__ == "__main__":
    main()
