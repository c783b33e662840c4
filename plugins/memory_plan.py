"""GPU memory per device for a LoRA run, term by term: the arithmetic of `make plan` (plugins.plan gathers the inputs).

    from plugins.memory_plan import PlanInputs, plan_terms, largest_batch
    terms = plan_terms(inputs, batch=4)          # {"base weights": bytes, ...}
    largest_batch(inputs, budget_bytes)          # the largest per_device_train_batch_size that fits (0: none)

Terms (bytes per GPU):
- base weights: every parameter that is not trained, in the compute dtype (bf16: 2 bytes); ZeRO-3 splits them over
  the GPUs and gathers a layer at a time (the gathered-layer allowance: two layers, the one in use and the prefetch).
- trainable: LoRA (and any trained vision tower) parameters, gradients and Adam states, 16 bytes a parameter
  (bf16 weight and gradient + float32 master, momentum and variance under DeepSpeed; float32 weight, gradient and
  two Adam states without it); ZeRO-2 splits gradients and optimizer states, ZeRO-3 all of it.
- activations: what autograd keeps, counted on the released architecture (plugins.activation_count) for the longest
  sample, times per_device_train_batch_size (a batch is padded to its longest sample).
- logits: vocabulary x tokens x 10 bytes (bf16 logits, the loss's float32 copy and its float32 gradient); Liger's
  fused cross-entropy never builds them.
- DeepSpeed gradient buckets: ZeRO-2/3 with contiguous_gradients allocate reduce_bucket_size gradient elements
  (two buffers with overlap_comm), whatever the number of trainable parameters.
- CUDA context and allocator: a fixed allowance for the CUDA context and kernels, plus a share of the per-batch
  terms for the caching allocator's fragmentation.
"""

from dataclasses import dataclass, replace

GIB = 2**30
CUDA_CONTEXT_BYTES = int(0.8 * GIB)  # CUDA context, cuBLAS/cuDNN workspaces and NCCL buffers seen on A100/H100
ALLOCATOR_SLACK = 0.10  # the caching allocator's fragmentation, as a share of the memory that changes every step
LOGIT_BYTES_PER_ENTRY = 2 + 4 + 4  # bf16 logits + the loss's float32 copy + its float32 gradient
TRAINABLE_BYTES_PER_PARAMETER = 16  # weight + gradient + Adam momentum + variance (+ float32 master under DeepSpeed)
ZERO3_GATHERED_LAYERS = 2  # the layer in use and the one prefetched


@dataclass(frozen=True)
class PlanInputs:
    """Everything the arithmetic needs; per-sample figures are for one sample of the longest length."""

    frozen_parameters: int
    trainable_parameters: int
    largest_layer_parameters: int  # a decoder layer's parameters (ZeRO-3 gathers one at a time)
    weight_bytes: int  # bytes per frozen parameter (2 for bf16, 4 for float32)
    activation_bytes_per_sample: int  # plugins.activation_count: peak for one sample
    tokens_per_sample: int
    vocab_size: int
    zero_stage: int  # 0 (no DeepSpeed), 2 or 3
    deepspeed_buffer_bytes: int  # ZeRO's contiguous gradient buckets (reduce_bucket_size elements, twice if overlapped)
    gpus: int
    liger: bool  # enable_liger_kernel: fused linear cross-entropy, no logits


def _zero_shares(stage: int, gpus: int) -> tuple[float, float, float]:
    """(weights, trainable weight, gradient + optimizer) share each GPU holds at a ZeRO stage."""
    split = 1 / gpus
    if stage >= 3:
        return split, split, split
    if stage >= 1:  # stage 1 splits the optimizer states only, stage 2 also the gradients: both here
        return 1.0, 1.0, split
    return 1.0, 1.0, 1.0


def plan_terms(inputs: PlanInputs, batch: int) -> dict[str, int]:
    """Bytes per GPU, term by term, at ``batch`` samples per device."""
    weights_share, trainable_share, states_share = _zero_shares(inputs.zero_stage, inputs.gpus)
    weights = inputs.frozen_parameters * inputs.weight_bytes * weights_share
    if inputs.zero_stage >= 3 and inputs.gpus > 1:
        weights += ZERO3_GATHERED_LAYERS * inputs.largest_layer_parameters * inputs.weight_bytes
    trainable_weight = 4 if inputs.zero_stage == 0 else inputs.weight_bytes
    trainable = inputs.trainable_parameters * (
        trainable_weight * trainable_share + (TRAINABLE_BYTES_PER_PARAMETER - trainable_weight) * states_share
    )
    activations = batch * inputs.activation_bytes_per_sample
    logits = 0 if inputs.liger else batch * inputs.tokens_per_sample * inputs.vocab_size * LOGIT_BYTES_PER_ENTRY
    allowance = CUDA_CONTEXT_BYTES + ALLOCATOR_SLACK * (activations + logits)
    return {
        "base weights": int(weights),
        "trainable (LoRA) weights, gradients, Adam": int(trainable),
        "DeepSpeed gradient buckets": inputs.deepspeed_buffer_bytes if inputs.zero_stage else 0,
        "activations": int(activations),
        "logits + loss": int(logits),
        "CUDA context + allocator": int(allowance),
    }


def total_bytes(inputs: PlanInputs, batch: int) -> int:
    return sum(plan_terms(inputs, batch).values())


def largest_batch(inputs: PlanInputs, budget_bytes: int) -> int:
    """The largest per-device batch whose total fits ``budget_bytes`` (0: not even one sample)."""
    fixed = total_bytes(inputs, 0)
    per_sample = total_bytes(inputs, 1) - fixed
    if fixed + per_sample > budget_bytes:
        return 0
    return int((budget_bytes - fixed) // per_sample)


def with_changes(inputs: PlanInputs, **changes) -> PlanInputs:
    """``inputs`` with some fields changed (what a suggested setting would give)."""
    return replace(inputs, **changes)
