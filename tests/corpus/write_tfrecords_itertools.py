# Purpose: preprocessing job that shards a labelled CSV of product reviews into TFRecords, using pandas .map, builtin map and itertools.batched.
import argparse
import hashlib
import itertools
import os

import pandas as pd
import tensorflow as tf

LABELS = ["negative", "neutral", "positive"]
LABEL2ID = {name: i for i, name in enumerate(LABELS)}


def clean_text(s):
    return " ".join(s.replace("\r", " ").replace("\n", " ").split())


def bytes_feature(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def int64_feature(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def to_example(row):
    features = {
        "text": bytes_feature(row.text.encode("utf-8")),
        "label": int64_feature(int(row.label_id)),
        "stars": int64_feature(int(row.stars)),
        "product": bytes_feature(row.product_id.encode("ascii")),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))


def split_of(product_id, val_fraction=0.1):
    # stable split by product so that reviews of one product never leak across splits
    h = int(hashlib.md5(product_id.encode()).hexdigest(), 16)
    return "val" if (h % 1000) < val_fraction * 1000 else "train"


def load(path):
    df = pd.read_csv(path, dtype={"product_id": str})
    df = df.dropna(subset=["text", "sentiment"])
    df["text"] = df["text"].map(clean_text)
    df["label_id"] = df["sentiment"].str.lower().map(LABEL2ID)
    df = df[df["label_id"].notna()]
    df["split"] = df["product_id"].map(split_of)
    return df


def write_shards(rows, out_dir, prefix, shard_size):
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for shard_id, shard in enumerate(itertools.batched(rows, shard_size)):
        path = os.path.join(out_dir, f"{prefix}-{shard_id:05d}.tfrecord.gz")
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        with tf.io.TFRecordWriter(path, options=options) as writer:
            for example in map(to_example, shard):
                writer.write(example.SerializeToString())
        paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--out", default="data/reviews_tfrecord")
    ap.add_argument("--shard-size", type=int, default=50_000)
    args = ap.parse_args()

    df = load(args.csv)
    print(df.groupby(["split", "sentiment"]).size())
    for split in ("train", "val"):
        part = df[df["split"] == split].sample(frac=1.0, random_state=0)
        rows = part.itertuples(index=False)
        paths = write_shards(rows, args.out, split, args.shard_size)
        sizes = list(map(os.path.getsize, paths))
        print(f"{split}: {len(part)} rows in {len(paths)} shards, {sum(sizes) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
