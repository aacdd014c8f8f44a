"""The evaluation report's title names the model's config and kind, its training run, and the dataset by name."""

from __future__ import annotations

from evaluation.report import _title


def test_title_names_config_kind_run_and_dataset() -> None:
    r = {"model_name": "newsstance-stance@champion", "model_config": "minilm", "model_kind": "transformer",
         "source_run_id": "19dc0123456789", "dataset": "var/demo/dataset-seesaw", "split": "test",
         "dataset_lineage": {"slug": "seesaw-1a2b3c4d"}}
    assert _title(r) == ("Stance evaluation: minilm (transformer), run 19dc0123… from newsstance-stance@champion "
                         "on seesaw-1a2b3c4d (var/demo/dataset-seesaw) [test]")
    r.update(model_config="tfidf_logreg", model_kind="tfidf_logreg")
    assert _title(r).startswith("Stance evaluation: tfidf_logreg, run 19dc0123… from newsstance-stance@champion on")
    assert _title({"model_name": "preds", "dataset": "d", "split": "validation"}) == \
        "Stance evaluation: preds on d [validation]"
