"""The embedded tiny models, one per architecture: real classes, real patch math, ids from the tokenizer,
video tokens equal to features on a sample clip, deterministic builds."""

import hashlib
from dataclasses import dataclass, field
from types import ModuleType

import pytest
from transformers import AutoModelForImageTextToText, AutoProcessor

from models import tiny_common, tiny_qwen2_5_vl, tiny_qwen2vl, tiny_qwen3_5, tiny_qwen3_vl


@dataclass(frozen=True)
class Family:
    builder: ModuleType
    fixture: str  # conftest fixture that builds the model on first use
    model_class: str
    processor_class: str
    video_processor_class: str
    patching: tuple[int, int, int]  # (patch, temporal patch, spatial merge) of the released 7B/8B
    template: str  # our exact twin of the LLaMA-Factory template the family trains with
    default_system: bool  # the chat template opens with "You are a helpful assistant."
    added_tokens: tuple[str, ...]
    # the released model's vision fields that shape the video path, checked on the tiny config
    vision_fields: dict = field(default_factory=dict)
    # per-clip pixel bounds for 8 frames at a 224x224 budget (Qwen3-VL's video processor bounds a whole clip)
    video_size: dict = field(default_factory=dict)
    tokenizer_class: str = "Qwen2Tokenizer"
    answer_opening: str = ""  # what the chat template's generation prompt puts after "<|im_start|>assistant\n"


FAMILIES = {
    "qwen2_vl": Family(
        tiny_qwen2vl, "tiny_model_dir", "Qwen2VLForConditionalGeneration", "Qwen2VLProcessor",
        "Qwen2VLVideoProcessor", (14, 2, 2), "qwen2_vl_exact", True, (),
        video_size={"shortest_edge": 3136, "longest_edge": 224 * 224},
    ),
    "qwen2_5_vl": Family(
        tiny_qwen2_5_vl, "tiny_qwen2_5vl_dir", "Qwen2_5_VLForConditionalGeneration", "Qwen2_5_VLProcessor",
        "Qwen2VLVideoProcessor", (14, 2, 2), "qwen2_vl_exact", True, tiny_common.QWEN2_5_ADDED_TOKENS,
        vision_fields={"window_size": 112, "tokens_per_second": 2},
        video_size={"shortest_edge": 3136, "longest_edge": 224 * 224},
    ),
    "qwen3_vl": Family(
        tiny_qwen3_vl, "tiny_qwen3vl_dir", "Qwen3VLForConditionalGeneration", "Qwen3VLProcessor",
        "Qwen3VLVideoProcessor", (16, 2, 2), "qwen3_vl_nothink_exact", False, tiny_common.QWEN3_ADDED_TOKENS,
        vision_fields={"num_position_embeddings": 2304},
        video_size={"shortest_edge": 4096, "longest_edge": 8 * 224 * 224},
    ),
    "qwen3_5": Family(
        tiny_qwen3_5, "tiny_qwen3_5_dir", "Qwen3_5ForConditionalGeneration", "Qwen3VLProcessor",
        "Qwen3VLVideoProcessor", (16, 2, 2), "qwen3_5_nothink_exact", False, tiny_common.QWEN3_ADDED_TOKENS,
        vision_fields={"num_position_embeddings": 2304},
        video_size={"shortest_edge": 4096, "longest_edge": 8 * 224 * 224},
        tokenizer_class="Qwen3_5Tokenizer", answer_opening="<think>\n",
    ),
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request) -> tuple[str, Family]:
    return request.param, FAMILIES[request.param]


@pytest.fixture(scope="module")
def model_dir(family, request):
    return request.getfixturevalue(family[1].fixture)


@pytest.fixture(scope="module")
def processor(model_dir):
    return AutoProcessor.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def model(model_dir):
    return AutoModelForImageTextToText.from_pretrained(model_dir)


def test_loads_as_real_classes(family, processor, model):
    _, spec = family
    assert type(model).__name__ == spec.model_class
    assert type(processor).__name__ == spec.processor_class
    assert type(processor.video_processor).__name__ == spec.video_processor_class
    assert type(processor.tokenizer).__name__ == spec.tokenizer_class
    assert sum(p.numel() for p in model.parameters()) < 2_000_000


def test_patch_math_is_the_real_one(family, processor, model):
    name, spec = family
    vision = model.config.vision_config
    assert (vision.patch_size, vision.temporal_patch_size, vision.spatial_merge_size) == spec.patching
    video = processor.video_processor
    assert (video.patch_size, video.temporal_patch_size, video.merge_size) == spec.patching
    assert video.size["shortest_edge"] <= 224 * 224, "a 224x224 frame budget must not be upscaled"
    for key, value in spec.vision_fields.items():
        assert getattr(vision, key) == value, f"{name}: vision_config.{key}"
    if name == "qwen2_5_vl":  # windowed blocks and full-attention blocks both run, the last one full
        assert vision.fullatt_block_indexes[-1] == vision.depth - 1 and len(vision.fullatt_block_indexes) < vision.depth
    if name == "qwen3_vl":  # three DeepStack levels feeding the first text layers, interleaved M-RoPE
        assert len(vision.deepstack_visual_indexes) == 3
        assert max(vision.deepstack_visual_indexes) < vision.depth
        assert model.config.text_config.rope_parameters["mrope_interleaved"] is True
    if name == "qwen3_5":  # hybrid: a Gated DeltaNet linear-attention layer, then a full-attention layer; no DeepStack
        text = model.config.text_config
        assert text.layer_types == ["linear_attention", "full_attention"]
        assert text.rope_parameters["mrope_interleaved"] is True
        assert text.rope_parameters["partial_rotary_factor"] == 0.25
        assert not hasattr(vision, "deepstack_visual_indexes")


def test_token_ids_come_from_the_tokenizer(family, processor, model):
    _, spec = family
    tok, config = processor.tokenizer, model.config
    assert config.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert config.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert config.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
    assert config.text_config.vocab_size == len(tok)
    specials = [tok.convert_tokens_to_ids(token) for token in tiny_common.QWEN_VL_SPECIAL_TOKENS]
    added = [tok.convert_tokens_to_ids(token) for token in spec.added_tokens]
    assert sorted(specials + added) == list(range(len(tok) - len(specials) - len(added), len(tok))), (
        "specials and added tokens sit after the BPE vocabulary"
    )
    assert added == list(range(len(tok) - len(added), len(tok))), "added tokens follow the specials, in order"
    for token in [*tiny_common.QWEN_VL_SPECIAL_TOKENS, *spec.added_tokens]:
        assert tok.tokenize(token) == [token], f"{token} must stay one token"
    ids = tok("<|im_start|>hi<|im_end|>" + "".join(spec.added_tokens))["input_ids"]
    text = tok.decode(ids, skip_special_tokens=True)
    assert text == "hi" + "".join(spec.added_tokens), "added tokens are not special: decoding keeps them"


def test_chat_template_is_the_familys_chatml(family, processor):
    _, spec = family
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Describe."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    system = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" if spec.default_system else ""
    assert text == (
        f"{system}<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Describe.<|im_end|>\n"
        f"<|im_start|>assistant\n{spec.answer_opening}"
    )


def test_processor_counts_video_tokens_equal_to_features(family, processor, model, sample_dir):
    """8 frames of a sample clip read by our reader -> the family's processor -> a forward pass of the model."""
    import torch
    from transformers.video_utils import VideoMetadata

    from video.read import read_sampled_frames

    name, spec = family
    clip = sorted((sample_dir / "videos").rglob("*.mp4"))[0]
    info, indices, frames = read_sampled_frames(clip, video_fps=8.0, video_maxlen=8)
    metadata = VideoMetadata(total_num_frames=info.n_frames, fps=info.fps, frames_indices=indices)
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Describe."}]}],
        add_generation_prompt=True,
    )
    inputs = processor(
        text=[text], videos=[frames], return_tensors="pt",
        videos_kwargs={"do_sample_frames": False, "video_metadata": [metadata], "size": spec.video_size},
    )  # fmt: skip
    t, h, w = inputs["video_grid_thw"][0].tolist()
    merge = spec.patching[2]
    assert t == len(frames) // 2
    n_tokens = int((inputs["input_ids"] == model.config.video_token_id).sum())
    assert n_tokens == t * h * w // merge**2 > 0
    if name in ("qwen3_vl", "qwen3_5"):  # one "<t seconds>" per temporal patch: the mean time of its two frames
        decoded = processor.tokenizer.decode(inputs["input_ids"][0])
        expected = [(indices[i] + indices[i + 1]) / 2 / info.fps for i in range(0, len(indices), 2)]
        assert [f"<{s:.1f} seconds>" in decoded for s in expected] == [True] * t
        assert decoded.count("<|vision_start|>") == t
    if name == "qwen2_5_vl":  # seconds per temporal patch: 2 frames at the sampled rate (8 frames over the clip)
        sampled_fps = len(frames) / (info.n_frames / info.fps)
        assert inputs["second_per_grid_ts"].tolist() == pytest.approx([2 / sampled_fps])
    with torch.no_grad():
        logits = model(**inputs).logits  # transformers raises if tokens and features disagree
    assert logits.shape[-1] == model.config.text_config.vocab_size


def test_build_is_deterministic(family, model_dir, tmp_path):
    _, spec = family
    rebuilt = spec.builder.build(tmp_path / "again")
    names = sorted(path.name for path in model_dir.iterdir())
    assert names == sorted(path.name for path in rebuilt.iterdir())
    for name in names:
        original = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
        assert hashlib.sha256((rebuilt / name).read_bytes()).hexdigest() == original, name


def test_loads_through_llamafactory_and_counts_video_tokens(family, model_dir, sample_dir):
    """LLaMA-Factory's own tokenizer/template/model loaders accept it; tokens equal features on a sample clip."""
    from models import check_tiny_model

    _, spec = family
    preprocessing, model = check_tiny_model.load(str(model_dir), spec.template)
    clip = sorted((sample_dir / "videos").rglob("*.mp4"))[0]
    result = check_tiny_model.check_clip(str(clip), preprocessing, model)
    t, h, w = result["grid"]
    assert result["tokens"] == t * h * w // spec.patching[2] ** 2 > 0
    assert result["logits"][-1] == model.config.text_config.vocab_size


def _height_width_pairs(rope: dict, pairs: int) -> tuple[list[int], list[int]]:
    """Which rotary pairs carry height and which width: chunked [T..H..W] (Qwen2-VL, Qwen2.5-VL) or interleaved
    [THWTHW..T] (Qwen3-VL, Qwen3.5), as transformers lays them out."""
    temporal, height, width = rope["mrope_section"]
    assert temporal + height + width == pairs
    if rope.get("mrope_interleaved"):
        return list(range(1, 3 * height, 3)), list(range(2, 3 * width, 3))
    return list(range(temporal, temporal + height)), list(range(temporal + height, pairs))


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_rope_turns_with_height_and_width(name):
    """Every tiny model's M-RoPE height and width pairs turn by >= 0.1 rad per patch row/column (read from the
    model's own rotary inv_freq), so the language model can tell where in a frame a token is. With the released
    rope_theta (1e6-1e7) the slowest turned by ~1e-6 rad, and the demo's shape and direction stayed
    at chance."""
    from transformers import AutoModelForImageTextToText

    builder = FAMILIES[name].builder
    config = builder.build_config(builder.build_tokenizer())
    model = AutoModelForImageTextToText.from_config(config)
    inv_freq = model.model.language_model.rotary_emb.inv_freq.tolist()  # radians per position step, per pair
    height, width = _height_width_pairs(config.text_config.rope_parameters, len(inv_freq))
    assert len(height) == builder.SIZES.mrope_section[1] and len(width) == builder.SIZES.mrope_section[2]
    slowest = min(inv_freq[i] for i in height + width)
    assert slowest >= 0.1, f"{name}: slowest height/width pair turns {slowest:.1e} rad per patch"
    assert max(inv_freq[i] for i in height + width) <= 1.0, f"{name}: a height/width pair wraps within 3 patches"
