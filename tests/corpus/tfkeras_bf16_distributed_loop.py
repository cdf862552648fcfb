# Purpose: tf.keras small transformer classifier on IMDB, trained with a distributed custom loop under mixed_bfloat16 (TPU if present).
import tensorflow as tf

tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")

VOCAB = 20000
SEQ_LEN = 256
EMBED_DIM = 128
NUM_HEADS = 4
GLOBAL_BATCH = 256


def get_strategy():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, tf.errors.NotFoundError):
        return tf.distribute.get_strategy()


class TokenAndPosition(tf.keras.layers.Layer):
    def __init__(self, vocab, maxlen, dim):
        super().__init__()
        self.tok = tf.keras.layers.Embedding(vocab, dim, embeddings_initializer="random_normal")
        self.pos = tf.keras.layers.Embedding(maxlen, dim)

    def call(self, x):
        positions = tf.range(start=0, limit=tf.shape(x)[-1], delta=1)
        return self.tok(x) + self.pos(positions)


class TransformerBlock(tf.keras.layers.Layer):
    def __init__(self, dim, heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = tf.keras.layers.MultiHeadAttention(num_heads=heads, key_dim=dim // heads)
        self.ffn = tf.keras.Sequential([
            tf.keras.layers.Dense(ff_dim, activation="gelu"),
            tf.keras.layers.Dense(dim),
        ])
        self.norm1 = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.drop1 = tf.keras.layers.Dropout(rate)
        self.drop2 = tf.keras.layers.Dropout(rate)

    def call(self, x, training=False):
        attn = self.att(x, x, training=training)
        x = self.norm1(x + self.drop1(attn, training=training))
        return self.norm2(x + self.drop2(self.ffn(x), training=training))


def build_model():
    tokens = tf.keras.Input(shape=(SEQ_LEN,), dtype="int32")
    x = TokenAndPosition(VOCAB, SEQ_LEN, EMBED_DIM)(tokens)
    x = TransformerBlock(EMBED_DIM, NUM_HEADS, 4 * EMBED_DIM)(x)
    x = tf.keras.layers.GlobalAveragePooling1D()(x)
    x = tf.keras.layers.Dropout(0.1)(x)
    logits = tf.keras.layers.Dense(2, dtype="float32")(x)
    return tf.keras.Model(tokens, logits)


def make_dataset(x, y, batch):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(25000).batch(batch, drop_remainder=True)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def main(epochs=3):
    (x_train, y_train), _ = tf.keras.datasets.imdb.load_data(num_words=VOCAB)
    x_train = tf.keras.utils.pad_sequences(x_train, maxlen=SEQ_LEN)
    strategy = get_strategy()
    dist_ds = strategy.experimental_distribute_dataset(make_dataset(x_train, y_train, GLOBAL_BATCH))

    with strategy.scope():
        model = build_model()
        optimizer = tf.keras.optimizers.Adam(learning_rate=2e-4)
        loss_obj = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
        train_loss = tf.keras.metrics.Mean()

    def step_fn(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            per_example = loss_obj(y, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=GLOBAL_BATCH)
        grads = tape.gradient(loss, model.trainable_variables)
        # bfloat16 has float32's exponent range: no loss scaling needed
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def train_step(batch):
        x, y = batch
        per_replica = strategy.run(step_fn, args=(x, y))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    for epoch in range(epochs):
        train_loss.reset_state()
        for batch in dist_ds:
            train_loss.update_state(train_step(batch))
        print(f"epoch {epoch + 1}: loss {float(train_loss.result()):.4f}")
    model.save("imdb_transformer_bf16.keras")


if __name__ == "__main__":
    main()
