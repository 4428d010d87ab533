"""The workload preset table: published hyper-parameters of each model, with their sources.

Every entry names a ``transformers`` config class and the keyword arguments that fix every GEMM
shape of the model (hidden size, layers, heads, KV heads, FFN size, vocabulary, patch size,
stage depths and widths). Numbers are typed here from the papers and model cards cited next to
them; nothing is downloaded. Settings that do not change a shape (RoPE base, norm epsilon,
activation function) are left at the config class's defaults.

Checks in ``tests/models/test_workloads.py``: the parameter count of each model built from
these numbers equals the count its model card / torchvision documentation publishes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = ["KINDS", "WorkloadInfo", "WORKLOADS"]

#: workload families: decoder-only language models, vision transformers, convolutional nets,
#: encoder-only language models (one forward of ``tokens`` tokens, no decode)
KINDS = ("llm", "vit", "cnn", "encoder")
#: ImageNet-1k classifier head of the vision models (unit: classes)
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class WorkloadInfo:
    """One preset: which transformers classes to build, from which published numbers."""

    id: str
    #: "llm" (prefill and decode), "vit" or "cnn" (one forward of ``batch`` images),
    #: "encoder" (one forward of ``tokens`` tokens per sequence)
    kind: str
    #: transformers config class, e.g. "LlamaConfig"; "" for a model built here (VGG)
    config_class: str
    #: transformers model class built on the meta device, e.g. "LlamaForCausalLM"; without a
    #: config class, a builder of this module (:data:`LOCAL_MODELS`)
    model_class: str
    #: keyword arguments of ``config_class``: the published hyper-parameters
    config: Mapping[str, Any]
    #: where each number in ``config`` comes from
    source: str
    #: LLMs: longest sequence the model was trained on (unit: tokens); None for vision models
    context_tokens: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", MappingProxyType(dict(self.config)))

    @property
    def layers(self) -> int:
        """Transformer blocks (llm, vit), or the weighted layers that name a ResNet's depth
        (convolutions on the main path plus the classifier: 18, 50)."""
        if self.kind != "cnn":
            return int(self.config["num_hidden_layers"])
        if "channels" in self.config:   # VGG: its convolutions plus its fully connected layers
            return sum(c != "M" for c in self.config["channels"]) + 3
        per_block = 2 if self.config["layer_type"] == "basic" else 3
        return per_block * sum(self.config["depths"]) + 2  # + stem conv + classifier

    @property
    def params(self) -> int:
        """Parameters of the model built from :attr:`config` (tied weights counted once)."""
        return _count_params(self.id)

    def hf_config(self, **overrides: Any) -> Any:
        """The transformers config object (eager attention for llm/vit), with ``overrides``."""
        import transformers

        kwargs = dict(self.config)
        if self.kind != "cnn":
            kwargs["attn_implementation"] = "eager"
        kwargs.update(overrides)
        return getattr(transformers, self.config_class)(**kwargs)

    def build_model(self, **overrides: Any) -> nn.Module:
        """The model on the meta device (no weights allocated), in eval mode."""
        import torch
        import transformers

        if not self.config_class:
            with torch.device("meta"):
                return LOCAL_MODELS[self.model_class](**{**self.config, **overrides}).eval()
        config = self.hf_config(**overrides)
        with torch.device("meta"):
            return getattr(transformers, self.model_class)(config).eval()


def _vgg(channels: list[int | str], num_labels: int, image_size: int = 224) -> nn.Module:
    """A VGG network (Simonyan and Zisserman 2015): 3x3 stride-1 pad-1 convolutions with ReLU,
    "M" = 2x2 max pool, then adaptive average pooling to 7x7 and three fully connected layers
    (25088 -> 4096 -> 4096 -> classes), as torchvision builds it. ``pixel_values`` in, logits
    out; ``image_size`` only documents the default input."""
    from torch import nn

    class VGG(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            cin = 3
            for c in channels:
                if c == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(cin, int(c), 3, padding=1), nn.ReLU()]
                    cin = int(c)
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(cin * 49, 4096), nn.ReLU(), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, num_labels))

        def forward(self, pixel_values):  # noqa: ANN001, ANN202 - torch tensors
            x = self.avgpool(self.features(pixel_values))
            return self.classifier(x.flatten(1))

    return VGG()


#: models built here rather than by transformers (``WorkloadInfo.model_class`` -> builder)
LOCAL_MODELS = {"VGG": _vgg}


@functools.cache
def _count_params(workload_id: str) -> int:
    """Parameters of the preset's meta-device model; kept in the on-disk cache
    (:func:`qaccel.cache.cached_count`), as building the model imports transformers."""
    from qaccel.cache import cached_count

    def count() -> int:
        model = WORKLOADS[workload_id].build_model()
        return int(sum(p.numel() for p in model.parameters()))

    return cached_count("params", workload_id, count)


def _llama(wid: str, source: str, context: int, **numbers: int) -> WorkloadInfo:
    return WorkloadInfo(wid, "llm", "LlamaConfig", "LlamaForCausalLM",
                        {**numbers, "max_position_embeddings": context,
                         "tie_word_embeddings": False}, source, context)


def _opt(wid: str, source: str, **numbers: int) -> WorkloadInfo:
    # OPT: learned positions for 2048 tokens, pre-LN, d_ff = 4 x d_model (Zhang et al. 2022,
    # section 2.1 follows GPT-3); no projection between embedding and model width at >= 1.3B
    hidden = numbers["hidden_size"]
    return WorkloadInfo(wid, "llm", "OPTConfig", "OPTForCausalLM",
                        {**numbers, "ffn_dim": 4 * hidden, "word_embed_proj_dim": hidden,
                         "vocab_size": 50272, "max_position_embeddings": 2048,
                         "do_layer_norm_before": True}, source, 2048)


_OPT_SOURCE = ("Zhang et al. 2022, OPT (arXiv:2205.01068) Table 1 (layers, heads, d_model), "
               "d_ff = 4 d_model; vocab 50272, context 2048: facebook/{} config.json")
_LLAMA2_SOURCE = ("Touvron et al. 2023, Llama 2 (arXiv:2307.09288) Table 1 (context 4096) and "
                  "Llama 1 (arXiv:2302.13971) Table 2 (dim, heads, layers); FFN {}, vocab "
                  "32000: meta-llama/Llama-2-{}-hf config.json")

#: id -> preset, in the order ``qaccel workloads`` lists them
WORKLOADS: dict[str, WorkloadInfo] = {w.id: w for w in (
    # 1.3B: 24 layers, 32 heads, d_model 2048
    _opt("opt-1.3b", _OPT_SOURCE.format("opt-1.3b"), hidden_size=2048, num_hidden_layers=24,
         num_attention_heads=32),
    # 6.7B: 32 layers, 32 heads, d_model 4096
    _opt("opt-6.7b", _OPT_SOURCE.format("opt-6.7b"), hidden_size=4096, num_hidden_layers=32,
         num_attention_heads=32),
    # Phi-2 (2.7B): hidden 2560, 32 layers, 32 heads (head dim 80), FFN 10240, vocab 51200,
    # rotary on 40% of each head, context 2048; untied lm_head with bias
    WorkloadInfo("phi-2", "llm", "PhiConfig", "PhiForCausalLM",
                 {"hidden_size": 2560, "num_hidden_layers": 32, "num_attention_heads": 32,
                  "num_key_value_heads": 32, "intermediate_size": 10240,
                  "vocab_size": 51200, "partial_rotary_factor": 0.4,
                  "max_position_embeddings": 2048},
                 "microsoft/phi-2 model card (2.7B, context 2048) and config.json (hidden "
                 "2560, 32 layers, 32 heads, FFN 10240, vocab 51200, partial rotary 0.4)", 2048),
    # Yi-6B: Llama architecture with GQA, 4 KV heads
    _llama("yi-6b", "Young et al. 2024, Yi (arXiv:2403.04652) Table 1 (hidden 4096, 32 query "
           "heads, 4 KV heads, 32 layers, context 4096, vocab 64000); FFN 11008: 01-ai/Yi-6B "
           "config.json", 4096, hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
           num_key_value_heads=4, intermediate_size=11008, vocab_size=64000),
    _llama("llama-2-7b", _LLAMA2_SOURCE.format(11008, "7b"), 4096, hidden_size=4096,
           num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
           intermediate_size=11008, vocab_size=32000),
    _llama("llama-2-13b", _LLAMA2_SOURCE.format(13824, "13b"), 4096, hidden_size=5120,
           num_hidden_layers=40, num_attention_heads=40, num_key_value_heads=40,
           intermediate_size=13824, vocab_size=32000),
    # Llama 3 8B: GQA with 8 KV heads, vocabulary 128K (128256 entries in the released model)
    _llama("llama-3-8b", "Llama Team 2024, The Llama 3 Herd of Models (arXiv:2407.21783) "
           "Table 3 (32 layers, dim 4096, FFN 14336, 32 heads, 8 KV heads, vocab 128K); vocab "
           "128256, context 8192: meta-llama/Meta-Llama-3-8B config.json", 8192,
           hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
           num_key_value_heads=8, intermediate_size=14336, vocab_size=128256),
    # Llama 3.1 8B: Llama 3 8B's shapes with a 128K context (long-context runs)
    _llama("llama-3.1-8b", "Llama Team 2024, The Llama 3 Herd of Models (arXiv:2407.21783) "
           "Table 3 (Llama 3.1 8B: 32 layers, dim 4096, FFN 14336, 32 heads, 8 KV heads, vocab "
           "128K, context 128K); vocab 128256, context 131072: meta-llama/Llama-3.1-8B "
           "config.json", 131072,
           hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
           num_key_value_heads=8, intermediate_size=14336, vocab_size=128256),
    # ViT-Base/16 and ViT-Huge/14 at 224 x 224 with a 1000-class head (qkv with bias)
    WorkloadInfo("vit-b-16", "vit", "ViTConfig", "ViTForImageClassification",
                 {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                  "intermediate_size": 3072, "patch_size": 16, "image_size": 224,
                  "num_labels": IMAGENET_CLASSES},
                 "Dosovitskiy et al. 2021, ViT (arXiv:2010.11929) Table 1: ViT-Base (12 layers, "
                 "hidden 768, MLP 3072, 12 heads), patch 16, image 224, 1000 classes"),
    WorkloadInfo("vit-h-14", "vit", "ViTConfig", "ViTForImageClassification",
                 {"hidden_size": 1280, "num_hidden_layers": 32, "num_attention_heads": 16,
                  "intermediate_size": 5120, "patch_size": 14, "image_size": 224,
                  "num_labels": IMAGENET_CLASSES},
                 "Dosovitskiy et al. 2021, ViT (arXiv:2010.11929) Table 1: ViT-Huge (32 layers, "
                 "hidden 1280, MLP 5120, 16 heads), patch 14, image 224, 1000 classes"),
    # ResNets: 7x7/2 stem to 64 channels, 3x3/2 max pool, four stages, global pool, fc 1000;
    # stride in the 3x3 conv of a bottleneck (v1.5, as torchvision and microsoft/resnet-50)
    WorkloadInfo("resnet-18", "cnn", "ResNetConfig", "ResNetForImageClassification",
                 {"embedding_size": 64, "hidden_sizes": [64, 128, 256, 512],
                  "depths": [2, 2, 2, 2], "layer_type": "basic",
                  "num_labels": IMAGENET_CLASSES},
                 "He et al. 2016, Deep Residual Learning (arXiv:1512.03385) Table 1: 18-layer "
                 "(basic blocks [2, 2, 2, 2], widths 64/128/256/512), image 224, fc 1000"),
    WorkloadInfo("resnet-50", "cnn", "ResNetConfig", "ResNetForImageClassification",
                 {"embedding_size": 64, "hidden_sizes": [256, 512, 1024, 2048],
                  "depths": [3, 4, 6, 3], "layer_type": "bottleneck",
                  "downsample_in_bottleneck": False, "num_labels": IMAGENET_CLASSES},
                 "He et al. 2016, Deep Residual Learning (arXiv:1512.03385) Table 1: 50-layer "
                 "(bottlenecks [3, 4, 6, 3], outputs 256/512/1024/2048), image 224, fc 1000; "
                 "stride on the 3x3 conv (v1.5)"),
    # VGG-16 (configuration D) and BERT-base: the ANT paper's workloads (qaccel reproduce ant)
    WorkloadInfo("vgg-16", "cnn", "", "VGG",
                 {"channels": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512,
                               "M", 512, 512, 512, "M"], "num_labels": IMAGENET_CLASSES},
                 "Simonyan and Zisserman 2015, Very Deep Convolutional Networks (arXiv:1409.1556) "
                 "Table 1, configuration D: 13 3x3 convolutions (64, 64, 128, 128, 256 x 3, "
                 "512 x 6) with 5 max pools, fc 4096, 4096, 1000; image 224"),
    WorkloadInfo("bert-base", "encoder", "BertConfig", "BertForSequenceClassification",
                 {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                  "intermediate_size": 3072, "vocab_size": 30522,
                  "max_position_embeddings": 512, "num_labels": 2},
                 "Devlin et al. 2019, BERT (arXiv:1810.04805) section 3: BERT-BASE (L=12, "
                 "H=768, A=12, 110M parameters), FFN 4H = 3072, WordPiece vocabulary 30522 and "
                 "512 positions: google-bert/bert-base-uncased config.json; a 2-class "
                 "classifier head (MNLI has 3 classes; ANT's simulator uses 2)", 512),
)}
