"""Marker pooling: classify a statement from the encoder's states at the opening actor and policy markers.

The usual sequence classifier reads one vector (the [CLS] state) for the whole input. For relation-like
tasks the states at the entity-start markers carry more (Baldini Soares et al. 2019, "Matching the
Blanks"; Zhou & Chen 2022, "An Improved Baseline for Sentence-level Relation Extraction"): here the
states at `[ACT]` and `[POL]` are concatenated and go through a small head. Every row of the markers input
form holds both opening markers (around the mention in the context, or in the prefix when the mention was
not located); a row whose marker was cut by truncation falls back to the first token.

Saved as a plain encoder folder (`save_pretrained`, loadable by AutoModel) plus `pooling_head.safetensors`,
with `pooling: markers` in the folder's newsstance.json; `training.predict` loads either kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

HEAD_FILE = "pooling_head.safetensors"


class MarkerPooledClassifier(nn.Module):
    """An encoder (AutoModel) and a head over the concatenated states at the given marker token ids."""

    def __init__(self, encoder: Any, marker_ids: Sequence[int], num_labels: int, dropout: float | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        pooler = getattr(encoder, "pooler", None)
        if isinstance(pooler, nn.Module):  # the [CLS] pooler is not read here: not trained (and DDP wants every
            pooler.requires_grad_(False)  # trained weight used in the loss)
        self.config = encoder.config  # labels (id2label/label2id/num_labels) live here, as for a classifier
        hidden = encoder.config.hidden_size
        p = dropout if dropout is not None else float(getattr(encoder.config, "hidden_dropout_prob", 0.1) or 0.1)
        self.head = nn.Sequential(nn.Dropout(p), nn.Linear(hidden * len(marker_ids), hidden), nn.Tanh(),
                                  nn.Dropout(p), nn.Linear(hidden, num_labels))
        self.register_buffer("marker_ids", torch.tensor(list(marker_ids), dtype=torch.long), persistent=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **_: Any) -> SequenceClassifierOutput:
        kwargs = {"attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        states = self.encoder(input_ids=input_ids, **kwargs).last_hidden_state
        rows = torch.arange(input_ids.shape[0], device=input_ids.device)
        pooled = []
        for marker in self.marker_ids:
            hit = input_ids == marker
            # first occurrence; 0 (the first token) when the marker is absent (cut by truncation)
            position = torch.where(hit.any(dim=1), hit.int().argmax(dim=1), torch.zeros_like(rows))
            pooled.append(states[rows, position])
        logits = self.head(torch.cat(pooled, dim=-1))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def save(self, folder: str | Path) -> None:
        """The encoder as a model folder, the head beside it."""
        from safetensors.torch import save_file

        folder = Path(folder)
        self.encoder.save_pretrained(str(folder))
        save_file({k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
                  str(folder / HEAD_FILE))

    @classmethod
    def load(cls, folder: str | Path, marker_ids: Sequence[int]) -> MarkerPooledClassifier:
        """A saved folder back (raises OSError/ValueError like `from_pretrained` when it is not one)."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        folder = Path(folder)
        encoder = AutoModel.from_pretrained(str(folder))
        model = cls(encoder, marker_ids, encoder.config.num_labels)
        head = folder / HEAD_FILE
        if not head.is_file():
            raise OSError(f"{HEAD_FILE} missing beside the encoder")
        model.head.load_state_dict(load_file(str(head)))
        return model


def marker_ids(tokenizer: Any, markers: Sequence[str]) -> list[int]:
    """Token ids of the opening markers (they must be single added tokens)."""
    ids = tokenizer.convert_tokens_to_ids(list(markers))
    unknown = getattr(tokenizer, "unk_token_id", None)
    if any(i is None or i == unknown for i in ids):
        raise ValueError(f"tokenizer has no single token for {list(markers)}")
    return list(ids)
