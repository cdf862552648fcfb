# Purpose: keyword-spotting Conv1D model (tf.keras) on Speech Commands, fed by tf.data.Dataset.from_generator pipelines assembled step by step.
import glob
import os
import random

import numpy as np
import tensorflow as tf
from scipy.io import wavfile

SAMPLE_RATE = 16000
LABELS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
AUTOTUNE = tf.data.AUTOTUNE
NOISE_BANK = []


def list_clips(root, split):
    with open(os.path.join(root, f"{split}_list.txt")) as fh:
        rel = [line.strip() for line in fh if line.strip()]
    rel = [r for r in rel if r.split("/")[0] in LABELS]
    return [os.path.join(root, r) for r in rel]


def clip_generator(paths):
    def gen():
        for path in paths:
            rate, audio = wavfile.read(path)
            assert rate == SAMPLE_RATE, path
            audio = audio.astype(np.float32) / 32768.0
            audio = np.pad(audio, (0, max(0, SAMPLE_RATE - len(audio))))[:SAMPLE_RATE]
            yield audio, LABELS.index(path.split(os.sep)[-2])

    return gen


def log_mel(audio, label):
    stft = tf.signal.stft(audio, frame_length=400, frame_step=160, fft_length=512)
    power = tf.abs(stft) ** 2
    mel = tf.signal.linear_to_mel_weight_matrix(40, power.shape[-1], SAMPLE_RATE, 20.0, 7600.0)
    return tf.math.log(tf.tensordot(power, mel, 1) + 1e-6), label


def _mix_noise(audio):
    audio = audio.numpy()
    noise = random.choice(NOISE_BANK)
    start = random.randrange(0, len(noise) - len(audio))
    gain = random.uniform(0.0, 0.1)
    return (audio + gain * noise[start:start + len(audio)]).astype(np.float32)


def add_noise(audio, label):
    noisy = tf.py_function(_mix_noise, [audio], tf.float32)
    noisy.set_shape([SAMPLE_RATE])
    return noisy, label


def build_model(num_classes=len(LABELS)):
    return tf.keras.Sequential([
        tf.keras.Input(shape=(98, 40)),
        tf.keras.layers.Conv1D(64, 5, padding="same", activation="relu"),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.MaxPooling1D(2),
        tf.keras.layers.Conv1D(128, 5, padding="same", activation="relu"),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.MaxPooling1D(2),
        tf.keras.layers.Conv1D(128, 3, padding="same", activation="relu"),
        tf.keras.layers.GlobalAveragePooling1D(),
        tf.keras.layers.Dropout(0.3),
        tf.keras.layers.Dense(num_classes),
    ])


def main(root="speech_commands_v0.02", epochs=20, batch=64):
    NOISE_BANK.extend(
        wavfile.read(p)[1].astype(np.float32) / 32768.0
        for p in glob.glob(os.path.join(root, "_background_noise_", "*.wav"))
    )
    signature = (
        tf.TensorSpec(shape=(SAMPLE_RATE,), dtype=tf.float32),
        tf.TensorSpec(shape=(), dtype=tf.int32),
    )

    train_ds = tf.data.Dataset.from_generator(clip_generator(list_clips(root, "train")), output_signature=signature)
    train_ds = train_ds.map(add_noise)
    train_ds = train_ds.map(log_mel, num_parallel_calls=AUTOTUNE)
    train_ds = train_ds.batch(batch)
    train_ds = train_ds.shuffle(200)
    train_ds = train_ds.prefetch(AUTOTUNE)

    val_ds = tf.data.Dataset.from_generator(clip_generator(list_clips(root, "validation")), output_signature=signature)
    val_ds = val_ds.map(log_mel, num_parallel_calls=AUTOTUNE)
    val_ds = val_ds.shuffle(1000).cache()
    val_ds = val_ds.batch(batch).prefetch(AUTOTUNE)

    # a larger-batch view of the validation clips for a final sweep
    sweep_ds = val_ds.unbatch().shuffle(2048, seed=3).batch(256).prefetch(AUTOTUNE)

    model = build_model()
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=2)
    model.evaluate(sweep_ds, verbose=2)
    model.save("kws_conv1d.keras")


if __name__ == "__main__":
    main()
