"""Marker pooling (training.pooling) and frozen word embeddings, on the tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus.codebook import load_codebook
from training.config import load_config
from training.data import load_statements
from training.inputs import ACTOR_OPEN, POLICY_OPEN

TINY = ["transformer.epochs=1", "transformer.max_length=48"]


def _prepared(statements_dataset: Path, tmp_path: Path, *overrides: str):  # type: ignore[no-untyped-def]
    from training.reports import scores
    from training.transformer import build_trainer

    names = load_codebook().stance_names
    cfg, _ = load_config("tiny", [*TINY, *overrides])
    data = load_statements(statements_dataset, ["train", "validation"], names)
    score = lambda t, p: scores(t, p, names)["macro_f1"]  # noqa: E731
    return build_trainer(cfg, data.splits["train"], data.labels["train"], data.splits["validation"],
                         data.labels["validation"], names, tmp_path, score, progress=False)


def test_the_head_reads_the_opening_markers_states(statements_dataset: Path, tmp_path: Path) -> None:
    """Changing a token's state at a marker changes the logits; changing one elsewhere does not."""
    import torch

    prepared = _prepared(statements_dataset, tmp_path, "transformer.pooling=markers")
    model, tokenizer = prepared.trainer.model.eval(), prepared.tokenizer
    batch = tokenizer(["[ACT] Mexico [/ACT] rejects [POL] troops [/POL] on its soil today ."], return_tensors="pt")
    ids = batch["input_ids"][0].tolist()
    act, pol = ids.index(tokenizer.convert_tokens_to_ids(ACTOR_OPEN)), ids.index(
        tokenizer.convert_tokens_to_ids(POLICY_OPEN))
    seen: list[torch.Tensor] = []
    encoder = model.encoder

    def run(edit: int | None) -> torch.Tensor:
        def hook(_module, _inputs, output):  # type: ignore[no-untyped-def]
            if edit is not None:
                output.last_hidden_state[0, edit] += 5.0
            return output

        handle = encoder.register_forward_hook(hook)
        try:
            with torch.no_grad():
                return model(**batch).logits
        finally:
            handle.remove()

    base = run(None)
    seen += [run(act), run(pol), run(len(ids) - 2)]
    assert not torch.allclose(base, seen[0]) and not torch.allclose(base, seen[1])
    assert torch.allclose(base, seen[2])  # a word after both markers: not read by the head (only through attention)


def test_a_truncated_marker_falls_back_to_the_first_token(statements_dataset: Path, tmp_path: Path) -> None:
    import torch

    prepared = _prepared(statements_dataset, tmp_path, "transformer.pooling=markers")
    model, tokenizer = prepared.trainer.model.eval(), prepared.tokenizer
    batch = tokenizer(["no markers at all here"], return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, 3) and torch.isfinite(logits).all()


def test_frozen_embeddings_stay_out_of_the_optimizer(statements_dataset: Path, tmp_path: Path) -> None:
    frozen = _prepared(statements_dataset, tmp_path / "a", "transformer.freeze_embeddings=true").trainer
    free = _prepared(statements_dataset, tmp_path / "b").trainer
    sizes = []
    for trainer in (frozen, free):
        embedding = trainer.model.get_input_embeddings().weight
        optimizer = trainer.create_optimizer()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        assert any(p is embedding for p in params) is (trainer is free)
        sizes.append(sum(p.numel() for p in params))
    assert sizes[1] - sizes[0] == free.model.get_input_embeddings().weight.numel()


@pytest.mark.slow
def test_a_pooled_model_saves_loads_and_predicts_the_same(statements_dataset: Path, tmp_path: Path) -> None:
    """fit -> folder (encoder + head) -> TransformerPredictor gives the validation probabilities fit reported,
    with the saved input options (unplaced mentions located) applied at prediction time too."""
    from training.predict import TransformerPredictor
    from training.reports import scores
    from training.transformer import fit_transformer

    names = load_codebook().stance_names
    cfg, _ = load_config("tiny", [*TINY, "transformer.pooling=markers", "transformer.freeze_embeddings=true",
                                  "data.locate_unplaced=true"])
    data = load_statements(statements_dataset, ["train", "validation"], names)
    fit = fit_transformer(cfg, data.splits["train"], data.labels["train"], data.splits["validation"],
                          data.labels["validation"], names, tmp_path, lambda t, p: scores(t, p, names)["macro_f1"],
                          progress=False)
    assert (fit.model_dir / "pooling_head.safetensors").is_file()
    predictor = TransformerPredictor(fit.model_dir)
    assert predictor.meta["pooling"] == "markers" and predictor.meta["locate_unplaced"] is True
    assert predictor.labels == names
    assert np.allclose(predictor.predict_proba(data.splits["validation"]), fit.val_proba, atol=1e-5)
    predictor.meta["locate_unplaced"] = False  # the fixture's unlocated rows are findable: the input changes
    assert not np.allclose(predictor.predict_proba(data.splits["validation"]), fit.val_proba, atol=1e-5)
    (fit.model_dir / "pooling_head.safetensors").unlink()
    from corpus.errors import InputError

    with pytest.raises(InputError, match="pooling_head.safetensors missing"):
        TransformerPredictor(fit.model_dir)


def test_new_markers_start_distinct_from_their_words(tmp_path: Path) -> None:
    """Each added marker starts as the mean of its MARKER_WORDS' embeddings, not the matrix mean shared by all
    four (which frozen embeddings would keep): actor vs policy and opening vs closing differ from the start."""
    import json
    import shutil

    import torch

    from training.inputs import MARKER_WORDS, MARKERS
    from training.transformer import load_model, load_tokenizer

    folder = tmp_path / "tiny"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "tiny_model", folder)
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").split()
    vocab += [w for w in ("[", "]", "actor", "policy") if w not in vocab]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "vocab_size": len(vocab)}), encoding="utf-8")

    tokenizer = load_tokenizer(str(folder), "markers")
    model = load_model(str(folder), ["a", "b"], tokenizer, random_init=True)
    weight = model.get_input_embeddings().weight.detach()
    rows = {m: weight[tokenizer.convert_tokens_to_ids(m)] for m in MARKERS}
    for marker, words in MARKER_WORDS.items():
        pieces = [vocab.index(w) for w in words.split()]
        assert torch.allclose(rows[marker], weight[pieces].mean(dim=0)), marker
    vectors = torch.stack(list(rows.values()))
    distances = torch.cdist(vectors, vectors)
    assert (distances + torch.eye(4) > 1e-3).all(), distances


def test_layer_wise_decay_gives_lower_layers_lower_rates(tmp_path: Path) -> None:
    """transformer.layer_lr_decay: the head at the peak rate, each encoder layer below decayed once more."""
    from tests.training.conftest import statement_rows
    from training.config import load_config
    from training.transformer import build_trainer, layer_depth

    assert layer_depth("classifier.weight", 2) == 0
    assert layer_depth("bert.encoder.layer.1.attention.self.query.weight", 2) == 1
    assert layer_depth("encoder.encoder.layer.0.output.dense.bias", 2) == 2
    assert layer_depth("bert.embeddings.word_embeddings.weight", 2) == 3
    cfg, _ = load_config("tiny", ["transformer.layer_lr_decay=0.5", "transformer.label_smoothing=0.1",
                                  "transformer.learning_rate=0.01"])
    rows = statement_rows("train", 8)
    names = load_codebook().stance_names
    y = [names[r["stance"]] for r in rows]
    prepared = build_trainer(cfg, rows, y, rows, y, names, tmp_path, lambda t, p: 0.0, progress=False)
    optimizer = prepared.trainer.create_optimizer()
    rates = sorted({round(g["lr"], 6) for g in optimizer.param_groups})
    assert rates == [0.00125, 0.0025, 0.005, 0.01]  # embeddings, layer 0, layer 1, head
    assert prepared.trainer.smoothing == 0.1
