"""The preflight's per-sample step: one aligned sample checked and tokenized exactly as training will.

    from plugins.preflight_encode import SampleEncoder
    encoder = SampleEncoder(template, tokenizer, processor, data_args)   # as plugins.preflight_measure loads them
    measured = encoder.measure("webvid_train", 0, "1000001", sample)     # a SampleMeasure; never raises for a sample

The same step runs in one process or in each worker of plugins.preflight_parallel, so both give the same report.
Samples go through LLaMA-Factory's supervised encoder with the config's template (its mm_plugin counts video tokens
from clip metadata); a sample longer than cutoff_len is encoded again, truncated, to tell whether the cut reaches its
video tokens.
"""

import dataclasses
import os
from dataclasses import dataclass

import av

from data.caption_text import MEDIA_PLACEHOLDERS, chat_markup
from plugins.llamafactory_boundary import encode_sample
from plugins.preflight_report import CHAT_MARKUP, ENCODE_ERROR, TEXT_TRUNCATED, UNREADABLE, VIDEO_TRUNCATED, Offender
from video import VideoReadError

UNLIMITED_CUTOFF = 1 << 30
MAX_DETAIL = 300  # characters of LLaMA-Factory's message kept (it quotes the whole conversation)


@dataclass(frozen=True)
class SampleMeasure:
    """One sample measured: its untruncated length (None where it could not be encoded), the clips training will
    decode for it, and the offender it makes (None when it fits)."""

    tokens: int | None
    video_tokens: int
    clips: tuple[str, ...]
    offender: Offender | None


def chat_format_problem(sample) -> str | None:
    """A media placeholder in an answer (a caption) or a chat/special token in any turn of an AlignedSample, or
    None. The user's own placeholders are LLaMA-Factory's to count against the sample's media (it raises)."""
    turns = [("system", sample.system or "")]
    turns += [(message["role"], message["content"]) for message in [*sample.prompt, *sample.response]]
    for role, text in turns:
        if role != "assistant":
            for placeholder in MEDIA_PLACEHOLDERS:
                text = text.replace(placeholder, "")
        problem = chat_markup(text)
        if problem is not None:
            return f"{role} turn holds a {problem}"
    return None


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= MAX_DETAIL else f"{text[:MAX_DETAIL]}..."


class SampleEncoder:
    """LLaMA-Factory's supervised encoder twice over (untruncated, and truncated at the config's cutoff_len)."""

    def __init__(self, template, tokenizer, processor, data_args):
        from llamafactory.data.processor import SupervisedDatasetProcessor

        self.cutoff_len = data_args.cutoff_len
        self.untruncated = SupervisedDatasetProcessor(
            template=template,
            tokenizer=tokenizer,
            processor=processor,
            data_args=dataclasses.replace(data_args, cutoff_len=UNLIMITED_CUTOFF),
        )
        self.truncating = SupervisedDatasetProcessor(
            template=template, tokenizer=tokenizer, processor=processor, data_args=data_args
        )
        video_token = template.mm_plugin.video_token
        self.video_token_id = tokenizer.convert_tokens_to_ids(video_token) if video_token else None

    def measure(self, dataset: str, index: int, sample_id: str, sample) -> SampleMeasure:
        """Measure one AlignedSample; what would break training is returned as its offender, never raised."""
        videos = [str(video) for video in sample.videos]

        def offender(reason: str, detail: str) -> SampleMeasure:
            return SampleMeasure(None, 0, (), Offender(dataset, index, sample_id, videos, reason, 0, 0, detail))

        problem = chat_format_problem(sample)
        if problem is not None:
            return offender(CHAT_MARKUP, problem)
        try:
            input_ids = encode_sample(self.untruncated, sample)
        except (VideoReadError, av.FFmpegError, OSError) as error:
            return offender(UNREADABLE, str(error))
        except ValueError as error:  # LLaMA-Factory refuses the sample (e.g. placeholders and media disagree)
            return offender(ENCODE_ERROR, _short(error))
        video_tokens = input_ids.count(self.video_token_id) if self.video_token_id is not None else 0
        clips = tuple(str(video) for video in sample.videos if isinstance(video, (str, os.PathLike)))  # not frames
        too_long = None
        if len(input_ids) > self.cutoff_len:
            kept_video = encode_sample(self.truncating, sample).count(self.video_token_id)  # None counts 0
            reason = VIDEO_TRUNCATED if kept_video < video_tokens else TEXT_TRUNCATED
            too_long = Offender(dataset, index, sample_id, videos, reason, len(input_ids), video_tokens)
        return SampleMeasure(len(input_ids), video_tokens, clips, too_long)
