# Purpose: reusable Keras 3 (TF backend) trainer module: enables mixed_float16 on import and runs a GradientTape loop with an optimizer passed in by the caller.
"""Shared training loop used by the experiment scripts in this folder.

    from keras3_fp16_trainer_module import Trainer
    Trainer(model, optimizer, loss_fn).fit(train_ds, val_ds, epochs=10)
"""
import logging
import time

import tensorflow as tf
import keras

log = logging.getLogger(__name__)

keras.config.set_dtype_policy("mixed_float16")


class Trainer:
    def __init__(self, model, optimizer, loss_fn, grad_clip=1.0):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.grad_clip = grad_clip
        self.train_loss = keras.metrics.Mean(name="train_loss")
        self.val_loss = keras.metrics.Mean(name="val_loss")

    @tf.function
    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            pred = self.model(x, training=True)
            loss = self.loss_fn(y, pred)
            loss += tf.add_n(self.model.losses) if self.model.losses else 0.0
        grads = tape.gradient(loss, self.model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, self.grad_clip)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        self.train_loss.update_state(loss)

    @tf.function
    def val_step(self, x, y):
        pred = self.model(x, training=False)
        self.val_loss.update_state(self.loss_fn(y, pred))

    def fit(self, train_ds, val_ds=None, epochs=1, log_every=100):
        history = []
        for epoch in range(epochs):
            start = time.perf_counter()
            self.train_loss.reset_state()
            self.val_loss.reset_state()
            for step, (x, y) in enumerate(train_ds):
                self.train_step(x, y)
                if step % log_every == 0:
                    log.info("epoch %d step %d loss %.4f", epoch, step, float(self.train_loss.result()))
            if val_ds is not None:
                for x, y in val_ds:
                    self.val_step(x, y)
            row = {
                "epoch": epoch,
                "train_loss": float(self.train_loss.result()),
                "val_loss": float(self.val_loss.result()) if val_ds is not None else None,
                "seconds": time.perf_counter() - start,
            }
            log.info("%s", row)
            history.append(row)
        return history

    def save(self, path):
        self.model.save(path)
        log.info("saved %s", path)
