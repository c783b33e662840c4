"""What autograd keeps for the backward pass of a Qwen-VL language model, counted on the meta device (no GPU, no
weights): the activation term of the memory plan (plugins.memory_plan).

    from plugins.activation_count import CountSettings, count_activations
    count = count_activations(text_config, CountSettings(tokens=512, lora_targets=("q_proj", "v_proj"), ...))
    count.saved_bytes, count.peak_bytes        # one sample of `tokens` tokens; a batch of B costs B times that

The released architecture's language model is built on the meta device with the attention implementation and
gradient checkpointing the run will use, LoRA put on its target modules, and one forward pass of ``tokens``
embeddings runs inside ``torch.autograd.graph.saved_tensors_hooks``. Every saved tensor that is not a parameter (a
frozen linear saves its own weight) is added up once per storage (the rotary tables are shared by every layer). The
vision tower is not run: frozen (``freeze_vision_tower``), nothing in it needs a gradient and it saves nothing.
The logits and the loss are the memory plan's own term (vocabulary x tokens), not counted here.

Fused attention (``sdpa`` on a GPU picks FlashAttention or memory-efficient kernels in bf16; ``fa2``) keeps
q, k, v, the output and a float32 log-sum-exp per head and token, never the tokens x tokens scores. On the meta
device sdpa would take its math fallback, which keeps the scores, so the count swaps in a stand-in that saves
exactly what the fused kernels save. ``eager`` attention is counted as it runs (scores and softmax included).
With gradient checkpointing (LLaMA-Factory's default, reentrant), each layer keeps its inputs only, and the
backward pass recomputes one layer at a time: the peak adds the largest layer's full count.
"""

import contextlib
from dataclasses import dataclass

import torch

FUSED_ATTENTION = ("sdpa", "flash_attention_2")  # what LLaMA-Factory's flash_attn auto/sdpa/fa2 run on a GPU
COUNT_VERSION = 1  # bump when what is counted changes: cached counts (plugins.plan_cache) are then recounted


@dataclass(frozen=True)
class CountSettings:
    """What decides the count besides the architecture."""

    tokens: int  # one sample's length (a batch is padded to its longest sample)
    attention: str = "sdpa"  # transformers attn_implementation: sdpa, flash_attention_2 or eager
    gradient_checkpointing: bool = True  # LLaMA-Factory's default (disable_gradient_checkpointing: false)
    lora_targets: tuple[str, ...] = ()  # module names in the language model's layers (q_proj, ...)
    lora_rank: int = 8
    lora_dropout: float = 0.0
    dtype: str = "bfloat16"  # the compute dtype (bf16: true) or float32


@dataclass(frozen=True)
class ActivationCount:
    """Bytes for one sample of ``settings.tokens`` tokens."""

    saved_bytes: int  # everything the forward pass keeps for the backward pass
    layer_bytes: int  # the largest single layer's full count (what checkpointing recomputes at once)

    def peak_bytes(self, gradient_checkpointing: bool) -> int:
        """What the backward pass holds at its peak: with checkpointing, one layer is recomputed in full on top."""
        return self.saved_bytes + (self.layer_bytes if gradient_checkpointing else 0)


class _FusedAttention(torch.autograd.Function):
    """Saves what FlashAttention / memory-efficient attention save: q, k, v, output, float32 log-sum-exp."""

    @staticmethod
    def forward(ctx, query, key, value):
        output = torch.empty_like(query)
        logsumexp = torch.empty(query.shape[:-1], dtype=torch.float32, device=query.device)
        ctx.save_for_backward(query, key, value, output, logsumexp)
        return output

    @staticmethod
    def backward(ctx, grad_output):  # never run: the count stops after the forward pass
        raise NotImplementedError


def _fused_sdpa(query, key, value, *args, **kwargs):
    return _FusedAttention.apply(query, key, value)


@contextlib.contextmanager
def _fused_attention_kernels():
    """torch's sdpa replaced by _fused_sdpa while counting (transformers' sdpa path calls it by module attribute)."""
    original = torch.nn.functional.scaled_dot_product_attention
    torch.nn.functional.scaled_dot_product_attention = _fused_sdpa
    try:
        yield
    finally:
        torch.nn.functional.scaled_dot_product_attention = original


class _SavedTensors:
    """saved_tensors_hooks' pack hook: adds up the bytes of each saved non-parameter storage once."""

    def __init__(self, parameters):
        self.skip = {p.untyped_storage()._cdata for p in parameters}
        self.storages: dict[int, int] = {}

    def pack(self, tensor):
        storage = tensor.untyped_storage()
        key = storage._cdata  # unique per storage, also on the meta device where every data_ptr is 0
        if key not in self.skip:
            self.storages[key] = max(self.storages.get(key, 0), storage.nbytes())
        return tensor

    @property
    def total(self) -> int:
        return sum(self.storages.values())


def _layer_types(text_config) -> list[str]:
    """Each layer's kind (hybrid models mix linear and full attention); one kind for the others."""
    return list(getattr(text_config, "layer_types", None) or ["decoder"] * text_config.num_hidden_layers)


def _language_model(text_config, settings: CountSettings, layer_types: list[str]):
    """The language model with only ``layer_types`` as its layers, on the meta device, LoRA on its targets."""
    from transformers import AutoModel

    config = text_config.__class__.from_dict(text_config.to_dict())  # a copy: the caller's stays as it was
    config.num_hidden_layers = len(layer_types)
    if getattr(text_config, "layer_types", None):
        config.layer_types = list(layer_types)
    config._attn_implementation = "sdpa" if settings.attention in FUSED_ATTENTION else settings.attention
    with torch.device("meta"):
        model = AutoModel.from_config(config, dtype=getattr(torch, settings.dtype))
    model.requires_grad_(False)
    targets = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()} & set(settings.lora_targets)
    if targets:  # a linear-attention layer has no q_proj/v_proj
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(r=settings.lora_rank, target_modules=sorted(targets), lora_dropout=settings.lora_dropout)
        model = get_peft_model(model, lora).base_model.model
    return model


def _positions(tokens: int) -> torch.Tensor:
    """Position ids as the VL models hand them to their language model: one row per M-RoPE axis (t, h, w)."""
    return torch.arange(tokens, device="meta").view(1, 1, -1).expand(3, 1, tokens)


def _saved_bytes(model, settings: CountSettings, checkpointing: bool) -> int:
    """Bytes autograd keeps after one forward pass of one sample of ``settings.tokens`` tokens."""
    model.train()  # LoRA dropout and gradient checkpointing act in training mode only
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    else:
        model.gradient_checkpointing_disable()
    saved = _SavedTensors(model.parameters())
    # LLaMA-Factory makes the embeddings' output require a gradient when checkpointing (enable_input_require_grads)
    embeddings = torch.empty(
        1, settings.tokens, model.config.hidden_size, device="meta", dtype=getattr(torch, settings.dtype)
    ).requires_grad_(checkpointing)
    attention = _fused_attention_kernels() if settings.attention in FUSED_ATTENTION else contextlib.nullcontext()
    with attention, torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda tensor: tensor):
        model(inputs_embeds=embeddings, position_ids=_positions(settings.tokens), use_cache=False)
    return saved.total


def _per_layer(text_config, settings: CountSettings, kind: str, checkpointing: bool) -> tuple[int, int]:
    """(bytes outside the layers, bytes of one layer of ``kind``): counted with one and with two such layers, so
    what every layer shares (the rotary tables) lands outside."""
    one = _saved_bytes(_language_model(text_config, settings, [kind]), settings, checkpointing)
    two = _saved_bytes(_language_model(text_config, settings, [kind, kind]), settings, checkpointing)
    return one - (two - one), two - one


def count_activations(text_config, settings: CountSettings) -> ActivationCount:
    """Count one sample of ``settings.tokens`` tokens through the language model of ``text_config``: each kind of
    layer is counted once and scaled by how many layers have it."""
    kinds = _layer_types(text_config)
    saved, layer_bytes = 0, 0
    for kind in sorted(set(kinds)):
        outside_full, layer_full = _per_layer(text_config, settings, kind, checkpointing=False)
        layer_bytes = max(layer_bytes, layer_full)
        if settings.gradient_checkpointing:
            outside, layer = _per_layer(text_config, settings, kind, checkpointing=True)
        else:
            outside, layer = outside_full, layer_full
        saved = max(saved, outside) + kinds.count(kind) * layer  # what lies outside the layers, counted once
    return ActivationCount(saved_bytes=saved, layer_bytes=layer_bytes)
