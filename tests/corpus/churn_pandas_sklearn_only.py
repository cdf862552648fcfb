# Purpose: customer-churn baseline with pandas and scikit-learn only (no deep-learning framework); chunked scoring with itertools.batched.
import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

PLAN_CODES = {"basic": 0, "standard": 1, "premium": 2}
BATCH_SIZE = 4096  # rows per scoring chunk
DROP = ["signup_date", "customer_id"]


def load_frame(path):
    df = pd.read_csv(path, parse_dates=["signup_date"])
    df["plan"] = df["plan"].map(PLAN_CODES).fillna(-1).astype(int)
    df["churned"] = df["churned"].map({"yes": 1, "no": 0})
    df["tenure_days"] = (pd.Timestamp("2024-01-01") - df["signup_date"]).dt.days
    df["country"] = df["country"].astype("category")
    return df.drop(columns=DROP)


def cross_validate(df, n_splits=5, seed=0):
    X = df.drop(columns=["churned"])
    y = df["churned"].to_numpy()
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores, model = [], None
    for fold, (tr, va) in enumerate(folds.split(X, y)):
        model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, categorical_features="from_dtype")
        model.fit(X.iloc[tr], y[tr])
        proba = model.predict_proba(X.iloc[va])[:, 1]
        scores.append(roc_auc_score(y[va], proba))
        print(f"fold {fold}: auc={scores[-1]:.4f}")
    return float(np.mean(scores)), model


def score_in_batches(model, records, columns):
    # Python 3.12+: itertools.batched yields tuples of up to BATCH_SIZE records
    for chunk in itertools.batched(records, BATCH_SIZE):
        frame = pd.DataFrame.from_records(chunk, columns=columns)
        frame["plan"] = frame["plan"].map(PLAN_CODES).fillna(-1).astype(int)
        frame["country"] = frame["country"].astype("category")
        yield from model.predict_proba(frame)[:, 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train_csv", type=Path)
    ap.add_argument("--score", type=Path)
    args = ap.parse_args()

    df = load_frame(args.train_csv)
    auc, model = cross_validate(df)
    print(json.dumps({"cv_auc": round(auc, 4), "rows": len(df)}))

    if args.score:
        raw = pd.read_csv(args.score)
        ids = list(map(str, raw.pop("customer_id")))
        raw["tenure_days"] = raw.pop("tenure_days").astype(int)
        columns = [c for c in df.columns if c != "churned"]
        records = raw[columns].itertuples(index=False, name=None)
        scores = list(score_in_batches(model, records, columns))
        out = pd.DataFrame({"customer_id": ids, "churn_score": scores})
        out.sort_values("churn_score", ascending=False).to_csv(sys.stdout, index=False)


if __name__ == "__main__":
    main()
