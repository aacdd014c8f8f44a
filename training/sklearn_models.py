"""scikit-learn stance models over statement rows: the majority baseline and TF-IDF + logistic regression."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from training.inputs import sklearn_text

log = logging.getLogger(__name__)


def _records(rows: Any) -> list[dict[str, Any]]:
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")
    if hasattr(rows, "to_list"):  # datasets.Dataset
        return rows.to_list()
    return list(rows)


def statement_frame(rows: Any, mask_names: bool = False, prefix_unlocated: bool = False,
                    locate_unplaced: bool = False) -> pd.DataFrame:
    """Statement rows (DataFrame, datasets.Dataset or list of dicts) -> the text columns the models read."""
    records = _records(rows)

    def name(r: dict[str, Any], kind: str) -> str:
        return str(r.get(f"{kind}_label") or r.get(f"{kind}_mention") or "")

    return pd.DataFrame({
        "text": [sklearn_text(r, prefix_unlocated=prefix_unlocated, names=not mask_names,
                              locate_unplaced=locate_unplaced) for r in records],
        "actor": [name(r, "actor") for r in records],
        "policy": [name(r, "policy") for r in records],
    })


class StatementClassifier(ClassifierMixin, BaseEstimator):
    """A fitted sklearn pipeline over statement rows whose probabilities follow the codebook's label order.

    Classes absent from the training data (SEESAW has no neutral) get probability 0. `temperature` (fitted on
    validation after selection) rescales the probabilities; a detector also carries its `none_label` and the
    P(statement) `threshold` chosen on validation; a stance model its pair-pooling weight `pool_weight`
    (training.consistency), applied over the rows of one call.
    """

    def __init__(self, labels: Sequence[str], pipeline: Any, mask_names: bool = False,
                 prefix_unlocated: bool = False, locate_unplaced: bool = False) -> None:
        self.labels = list(labels)
        self.pipeline = pipeline
        self.mask_names = mask_names
        self.prefix_unlocated = prefix_unlocated
        self.locate_unplaced = locate_unplaced
        self.temperature = 1.0
        self.pool_weight = 0.0
        self.none_label: str | None = None
        self.threshold: float | None = None

    def frame(self, X: Any) -> pd.DataFrame:
        """The text columns of statement rows, as this model was fitted on them."""
        return statement_frame(X, self.mask_names, self.prefix_unlocated, getattr(self, "locate_unplaced", False))

    def fit(self, X: Any, y: Sequence[str]) -> StatementClassifier:
        self.pipeline.fit(self.frame(X), list(y))
        self.classes_ = np.array(self.labels)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        from training.calibration import apply_temperature
        from training.consistency import apply_pooling

        records = _records(X)
        proba = self.pipeline.predict_proba(self.frame(records))
        out = np.zeros((proba.shape[0], len(self.labels)))
        for j, cls in enumerate(self.pipeline.classes_):
            out[:, self.labels.index(cls)] = proba[:, j]
        out = apply_temperature(out, getattr(self, "temperature", 1.0))
        return apply_pooling(out, records, getattr(self, "pool_weight", 0.0), self.labels,
                             getattr(self, "none_label", None), getattr(self, "threshold", None))

    def predict(self, X: Any) -> np.ndarray:
        return np.array(self.labels)[self.predict_proba(X).argmax(axis=1)]


def _features(cfg: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer

    parts: list[tuple[str, Any, str]] = [
        ("word", TfidfVectorizer(ngram_range=(1, cfg.word_ngram_max), min_df=cfg.min_df, sublinear_tf=True), "text"),
    ]
    if cfg.char_ngrams:
        parts.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(cfg.char_ngram_min, cfg.char_ngram_max),
                                              min_df=cfg.min_df, sublinear_tf=True), "text"))
    if cfg.entity_names:
        parts += [("actor", TfidfVectorizer(), "actor"), ("policy", TfidfVectorizer(), "policy")]
    return ColumnTransformer(parts)


@dataclass
class SklearnFit:
    """A fitted model plus how it was chosen: the validation macro-F1 of each C tried."""

    model: StatementClassifier
    chosen: dict[str, Any] = field(default_factory=dict)
    search: list[tuple[float, float]] = field(default_factory=list)


def fit_majority(train_rows: Any, y_train: Sequence[str], labels: Sequence[str]) -> SklearnFit:
    """The class-prior baseline (predicts the most frequent training stance)."""
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    pipe = Pipeline([("clf", DummyClassifier(strategy="prior"))])
    return SklearnFit(StatementClassifier(labels, pipe).fit(train_rows, y_train))


def fit_tfidf_logreg(train_rows: Any, y_train: Sequence[str], val_rows: Any, y_val: Sequence[str],
                     labels: Sequence[str], cfg: Any, seed: int,
                     score: Callable[[Sequence[str], Sequence[str]], float],
                     progress: bool = False, locate_unplaced: bool = False) -> SklearnFit:
    """Fit the features once, a logistic regression per C; keep the C with the best validation score."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from tqdm.auto import tqdm

    features = _features(cfg)
    options = {"mask_names": cfg.mask_names, "prefix_unlocated": cfg.prefix_unlocated,
               "locate_unplaced": locate_unplaced}
    x_train = features.fit_transform(statement_frame(train_rows, **options))
    x_val = features.transform(statement_frame(val_rows, **options))
    best: tuple[float, float, Any] | None = None
    search = []
    for c in tqdm(cfg.c_grid, desc="C search", disable=not progress, unit="C"):
        clf = LogisticRegression(C=c, class_weight=None if cfg.class_weight == "none" else "balanced",
                                 max_iter=cfg.max_iter, random_state=seed)
        clf.fit(x_train, list(y_train))
        value = score(list(y_val), list(clf.predict(x_val)))
        search.append((c, value))
        log.info("C=%g validation macro-F1 %.4f", c, value)
        if best is None or value > best[0]:
            best = (value, c, clf)
    assert best is not None
    model = StatementClassifier(labels, Pipeline([("features", features), ("clf", best[2])]), **options)
    model.classes_ = np.array(model.labels)
    return SklearnFit(model, {"C": best[1]}, search)
