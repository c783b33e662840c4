"""The embedded tiny Qwen2-VL: real classes, real patch math, ids from the tokenizer, deterministic build."""

import hashlib

import pytest
from transformers import AutoModelForImageTextToText, AutoProcessor

from models import tiny_qwen2vl


@pytest.fixture(scope="module")
def processor(tiny_model_dir):
    return AutoProcessor.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return AutoModelForImageTextToText.from_pretrained(tiny_model_dir)


def test_loads_as_real_qwen2vl_classes(processor, model):
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2VLProcessor"
    assert type(processor.video_processor).__name__ == "Qwen2VLVideoProcessor"
    assert type(processor.tokenizer).__name__ in ("Qwen2Tokenizer", "Qwen2TokenizerFast")
    assert sum(p.numel() for p in model.parameters()) < 2_000_000


def test_patch_math_is_the_real_one(processor, model):
    vision = model.config.vision_config
    assert (vision.patch_size, vision.temporal_patch_size, vision.spatial_merge_size) == (14, 2, 2)
    video = processor.video_processor
    assert (video.patch_size, video.temporal_patch_size, video.merge_size) == (14, 2, 2)
    assert video.size["shortest_edge"] <= 224 * 224, "a 224x224 frame budget must not be upscaled"


def test_token_ids_come_from_the_tokenizer(processor, model):
    tok = processor.tokenizer
    config = model.config
    assert config.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert config.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert config.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
    assert config.text_config.vocab_size == len(tok)
    for token in tiny_qwen2vl.SPECIAL_TOKENS:
        assert tok.tokenize(token) == [token], f"{token} must stay one token"


def test_chat_template_is_qwen2vl_chatml(processor):
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Describe."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Describe.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_build_is_deterministic(tiny_model_dir, tmp_path):
    rebuilt = tiny_qwen2vl.build(tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        original = hashlib.sha256((tiny_model_dir / name).read_bytes()).hexdigest()
        assert hashlib.sha256((rebuilt / name).read_bytes()).hexdigest() == original, name


def test_loads_through_llamafactory_and_counts_video_tokens(tiny_model_dir, sample_dir):
    """LLaMA-Factory's own tokenizer/template/model loaders accept it; tokens equal features on a sample clip."""
    from models import check_tiny_model

    preprocessing, model = check_tiny_model.load(str(tiny_model_dir), "qwen2_vl_exact")
    clip = sorted((sample_dir / "videos").rglob("*.mp4"))[0]
    result = check_tiny_model.check_clip(str(clip), preprocessing, model)
    t, h, w = result["grid"]
    assert result["tokens"] == t * h * w // 4 > 0
    assert result["logits"][-1] == model.config.text_config.vocab_size
