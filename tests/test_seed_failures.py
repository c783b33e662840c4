"""The seed's two failure modes as a user met them with the raw HF processor, and how our path rules each out.

1. A prompt with no video placeholder: the HF processor accepts it and the model fails only at the forward pass
   with "Video features and video tokens do not match, tokens: 0, ...". Our path (LLaMA-Factory's template with
   the ``qwen2_vl_exact`` plugin) refuses the record before any decoding, naming the placeholder.
2. Frames normalised to [0,1] before the processor: no error, no warning; the processor divides by 255 again
   and the model sees near-constant pixels. Our path decodes clips itself and only hands 8-bit RGB frames to the
   processor; pre-decoded frames that are not images are refused.
"""

import numpy as np
import pytest
import torch

from evaluation.inputs import load_preprocessing
from evaluation.settings import ModelSettings
from tests.reference_decoder import read_frames
from tests.training_fixtures import SMALL_FRAME_PIXELS, sample_clips
from video import probe_video, sample_indices

VIDEO_KWARGS = {"min_pixels": 56 * 56, "max_pixels": SMALL_FRAME_PIXELS, "do_sample_frames": False}
MISMATCH = "Video features and video tokens do not match, tokens: 0"
PLACEHOLDER_COUNT = "The number of videos does not match the number of <video> tokens"


@pytest.fixture(scope="module")
def clip(sample_dir) -> str:
    return str(sample_clips(sample_dir, 1)[0])


@pytest.fixture(scope="module")
def uint8_frames(clip) -> np.ndarray:
    """8 evenly spaced frames, (T, H, W, 3) uint8, as a user's own decoder would give them."""
    info = probe_video(clip)
    return np.stack(read_frames(clip, sample_indices(info, video_fps=8.0, video_maxlen=8)))


@pytest.fixture(scope="module")
def hf_processor(tiny_model_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def preprocessing(tiny_model_dir):
    """Our path: tokenizer, processor and qwen2_vl_exact template through LLaMA-Factory (as training/eval)."""
    return load_preprocessing(ModelSettings(base_model=str(tiny_model_dir), video_max_pixels=SMALL_FRAME_PIXELS))


# 1. no video placeholder


@pytest.mark.parametrize("prompt", ["Describe this video.", "<video>Describe this video."],
                         ids=["no placeholder", "llamafactory placeholder passed raw"])  # fmt: skip
def test_seed_prompt_without_video_tokens_fails_only_in_the_forward_pass(
    tiny_model_dir, hf_processor, uint8_frames, prompt
):
    from transformers import Qwen2VLForConditionalGeneration

    inputs = hf_processor(text=[prompt], videos=[uint8_frames], return_tensors="pt", videos_kwargs=VIDEO_KWARGS)
    video_pad = hf_processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert (inputs["input_ids"] == video_pad).sum() == 0  # the processor let it through
    assert inputs["video_grid_thw"].prod() > 0

    model = Qwen2VLForConditionalGeneration.from_pretrained(tiny_model_dir).eval()
    with pytest.raises(ValueError, match=MISMATCH), torch.no_grad():
        model(**inputs)


def test_our_template_refuses_a_record_without_a_video_placeholder(preprocessing, clip):
    plugin = preprocessing.template.mm_plugin
    messages = [{"role": "user", "content": "Describe this video in one sentence."}]
    with pytest.raises(ValueError, match=PLACEHOLDER_COUNT):
        plugin.process_messages(messages, [], [clip], [], preprocessing.processor)


def test_our_template_refuses_a_placeholder_without_a_video(preprocessing):
    plugin = preprocessing.template.mm_plugin
    messages = [{"role": "user", "content": "<video>Describe this video in one sentence."}]
    with pytest.raises(ValueError, match=PLACEHOLDER_COUNT):
        plugin.process_messages(messages, [], [], [], preprocessing.processor)


def test_our_template_expands_the_placeholder_to_as_many_tokens_as_features(preprocessing, clip):
    plugin, processor = preprocessing.template.mm_plugin, preprocessing.processor
    messages = plugin.process_messages([{"role": "user", "content": "<video>Describe."}], [], [clip], [], processor)
    prompt_ids, _ = preprocessing.template.encode_oneturn(
        preprocessing.tokenizer, messages + [{"role": "assistant", "content": ""}]
    )
    mm_inputs = plugin.get_mm_inputs([], [clip], [], [0], [1], [0], [prompt_ids], processor)
    features = int(mm_inputs["video_grid_thw"].prod()) // processor.video_processor.merge_size**2
    assert prompt_ids.count(preprocessing.video_token_id) == features > 0


# 2. frames normalised to [0,1]


def test_seed_frames_in_zero_one_pass_silently_and_come_out_near_constant(hf_processor, uint8_frames):
    video_processor = hf_processor.video_processor
    right = video_processor(videos=[uint8_frames], return_tensors="pt", **VIDEO_KWARGS)["pixel_values_videos"]
    floats = uint8_frames.astype(np.float32) / 255.0
    wrong = video_processor(videos=[floats], return_tensors="pt", **VIDEO_KWARGS)["pixel_values_videos"]

    assert wrong.shape == right.shape  # no error, no warning: the shapes are fine
    # rescaled twice (x / 255 / 255): every pixel lands within 0.4 of "black" after normalisation
    assert wrong.max() - wrong.min() < 0.4 and wrong.std() < 0.2
    assert right.max() - right.min() > 2.5 and right.std() > 0.8


class _RecordingVideoProcessor:
    """Stands in for the HF video processor and records the frames handed to it."""

    def __init__(self, video_processor):
        self.video_processor, self.videos = video_processor, []

    def __call__(self, videos, **kwargs):
        self.videos.extend(videos)
        return self.video_processor(videos=videos, **kwargs)

    def __getattr__(self, name):
        return getattr(self.video_processor, name)


def test_our_frame_path_hands_only_8_bit_rgb_frames_to_the_processor(preprocessing, sample_dir, monkeypatch):
    from PIL import Image

    processor, plugin = preprocessing.processor, preprocessing.template.mm_plugin
    recorder = _RecordingVideoProcessor(processor.video_processor)
    monkeypatch.setattr(processor, "video_processor", recorder)
    clips = [str(path) for path in sample_clips(sample_dir, 3)]
    mm_inputs = plugin.get_mm_inputs([], clips, [], [0] * 3, [1] * 3, [0] * 3, [[]] * 3, processor)

    frames = [frame for video in recorder.videos for frame in video]
    assert len(recorder.videos) == 3 and len(frames) >= 3 * 8
    assert all(isinstance(frame, Image.Image) and frame.mode == "RGB" for frame in frames)
    assert all(np.asarray(frame).dtype == np.uint8 for frame in frames)
    assert mm_inputs["pixel_values_videos"].std() > 0.5  # rescaled once: real contrast reaches the model


@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy frames", "torch tensor"])
def test_our_plugin_refuses_pre_decoded_float_frames(preprocessing, uint8_frames, as_tensor):
    """LLaMA-Factory accepts a video as a list of images; float arrays in [0,1] must never reach the processor."""
    floats = uint8_frames.astype(np.float32) / 255.0
    video = torch.from_numpy(floats) if as_tensor else list(floats)
    plugin = preprocessing.template.mm_plugin
    messages = [{"role": "user", "content": "<video>Describe this video in one sentence."}]
    with pytest.raises(ValueError, match="8-bit RGB"):
        plugin.process_messages(messages, [], [video], [], preprocessing.processor)


def test_our_plugin_refuses_float_pil_frames(preprocessing, uint8_frames):
    """Frames normalised to [0,1] and wrapped as PIL images (mode "F") would otherwise become black frames."""
    from PIL import Image

    video = [Image.fromarray(frame.astype(np.float32).mean(-1) / 255) for frame in uint8_frames]
    plugin = preprocessing.template.mm_plugin
    messages = [{"role": "user", "content": "<video>Describe this video in one sentence."}]
    with pytest.raises(ValueError, match="PIL mode 'F'"):
        plugin.process_messages(messages, [], [video], [], preprocessing.processor)


def test_our_plugin_accepts_8_bit_pil_frame_lists(preprocessing, uint8_frames):
    from PIL import Image

    plugin = preprocessing.template.mm_plugin
    messages = [{"role": "user", "content": "<video>Describe this video in one sentence."}]
    video = [Image.fromarray(frame) for frame in uint8_frames]
    expanded = plugin.process_messages(messages, [], [video], [], preprocessing.processor)
    assert plugin.video_token in expanded[0]["content"]
