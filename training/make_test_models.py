"""Writes small XGBoost models, one per supported objective, and XGBoost's own predictions for
them: fixtures for the Swift evaluator's tests. Run it once under each XGBoost major version
(2.x and 3.x store base_score differently):

    .venv/bin/python training/make_test_models.py
    .venv-xgb2/bin/python training/make_test_models.py   # pip install xgboost-cpu==2.1.4
"""
import csv
import math
import os

import numpy as np
import xgboost as xgb

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(ROOT, "Tests", "FeatureServerTests", "Fixtures", "models")
OBJECTIVES = ["binary:logistic", "reg:logistic", "binary:logitraw"]


def main():
    major = xgb.__version__.split(".")[0]
    rng = np.random.default_rng(11)
    names = ["f_a", "f_b", "f_c", "f_d"]
    matrix = rng.normal(size=(2000, len(names)))
    labels = ((matrix[:, 0] + 0.5 * matrix[:, 1] ** 2 - matrix[:, 2] + rng.normal(scale=0.5, size=2000)) > 0.4)
    matrix[rng.random(matrix.shape) < 0.1] = np.nan
    os.makedirs(OUT, exist_ok=True)
    for objective in OBJECTIVES:
        data = xgb.DMatrix(matrix, label=labels.astype(int), feature_names=names, missing=np.nan)
        booster = xgb.train({"objective": objective, "max_depth": 3, "eta": 0.3, "seed": 1}, data, 20)
        stem = f"xgb{major}_{objective.replace(':', '_')}"
        booster.save_model(os.path.join(OUT, stem + ".json"))
        rows = matrix[:200].astype(np.float32)
        predictions = booster.predict(xgb.DMatrix(rows, feature_names=names, missing=np.nan))
        with open(os.path.join(OUT, stem + ".csv"), "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(names + ["xgboost_prediction"])
            for row, prediction in zip(rows, predictions):
                writer.writerow(["" if math.isnan(v) else repr(float(v)) for v in row] + [repr(float(prediction))])
        print("wrote", stem)


if __name__ == "__main__":
    main()
